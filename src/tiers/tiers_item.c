/* tiers_item.c -- the calls on one item by id: retrieve (the hot path:
 * find the slot, update three timestamps and a counter, copy the content
 * out), peek, describe, delete, count, archive and restore, and the
 * copies handed to the caller.
 */
#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include "core/json_glue.h"
#include "tiers_int.h"

/* ---- Views ---- */

/* The fixed-size fields of a record, as a view and a copy both show them. */
static void copy_fields(am_tier_item *v, const titem *it)
{
    v->content_len = it->content_len;
    v->tier = (am_tier)it->tier;
    v->flags = (it->flags & T_JSON) ? AM_TIER_JSON : 0;
    v->created_ms = it->created_ms;
    v->accessed_ms = it->accessed_ms;
    v->access_count = it->access_count;
    v->importance = it->importance;
}

static am_status view_rec(am_tiers *t, const titem *it, am_tier_item *v)
{
    const uint32_t *tags = am__tiers_tags(it);
    void *p;

    if (it->ntags > t->view_tags_cap) {
        p = t->view_tags;
        if (am__grow(t->alloc, &p, &t->view_tags_cap, it->ntags,
                     sizeof(am_str)) != AM_OK)
            return AM_ENOMEM;
        t->view_tags = p;
    }
    for (size_t i = 0; i < it->ntags; i++) {
        const tkey *k = &t->tags.keys[tags[i]];
        t->view_tags[i].ptr = k->s;
        t->view_tags[i].len = k->len;
    }
    v->id.ptr = am__tiers_id(it);
    v->id.len = it->id_len;
    if (it->tier == AM_TIER_ARCHIVE) {
        v->content.ptr = NULL;
        v->content.len = 0;
    } else {
        v->content.ptr = am__tiers_content(it);
        v->content.len = it->stored_len;
    }
    copy_fields(v, it);
    v->type.ptr = t->types.keys[it->type].s;
    v->type.len = t->types.keys[it->type].len;
    v->tags = t->view_tags;
    v->tag_count = it->ntags;
    v->extra.ptr = am__tiers_extra(it);
    v->extra.len = it->extra_len;
    /* A view owns no storage. checksrc: allow AM_BUF_INIT */
    v->text = (am_buf)AM_BUF_INIT;
    v->tag_store = NULL;
    v->tag_cap = 0;
    return AM_OK;
}

am_status am__tiers_view(am_tiers *t, uint32_t slot, am_tier_item *v)
{
    return view_rec(t, am__tiers_item(t, slot), v);
}

/* ---- Retrieve, peek, describe, delete ---- */

/* The slot of `id`, after the id check and the sync. The id's table
 * entry starts loading first: at 100,000 items it is a cache miss, and
 * the check, the sync and the clock read (a third of an in-cache
 * retrieve under this VM) do not need it, so they run while it loads.
 * With `now`, the clock is read there. Only an id the check would reject
 * for its pointer or length is not hashed. */
static am_status lookup(am_tiers *t, am_str id, int64_t *now, uint32_t *slot)
{
    uint32_t h32 = 0;
    long s;
    am_status st;

    if (id.len > 0 && id.len <= T_ID_MAX && id.ptr != NULL)
        h32 = am__tiers_find_start(t, id.ptr, id.len);
    st = am__tiers_check_id(t, id);
    if (st == AM_OK)
        st = am__tiers_sync(t);
    if (st != AM_OK)
        return st;
    if (now != NULL)
        *now = am__tiers_now(t);
    s = am__tiers_find_h(t, id.ptr, id.len, h32);
    if (s < 0)
        return am__fail(&AM__ERR(t), AM_ENOTFOUND, "no item '%.*s'",
                        (int)(id.len > 200 ? 200 : id.len), id.ptr);
    *slot = (uint32_t)s;
    return AM_OK;
}

/* ---- Copies for the caller ---- */

void am_tier_item_free(am_tier_item *item)
{
    const am_allocator *a;

    if (item == NULL)
        return;
    a = item->text.alloc;
    am__free(a, item->tag_store, item->tag_cap * sizeof(am_str));
    am_buf_free(&item->text);
    *item = (am_tier_item)AM_TIER_ITEM_INIT;
    item->text.alloc = a;
}

/* Fill `info` with a copy of `it` (caller holds t->mu): the strings go
 * into info's own storage, so nothing in it points into the handle once
 * the lock is released; the content points into `content` when the
 * caller asked for it (already filled). On failure `info` keeps its
 * storage (freeable) and its other fields are unspecified. It reads the
 * record directly rather than through view_rec: the id, the extra
 * metadata and the content follow each other in the blob, so they are
 * one copy (a retrieve copies after its cache misses, so every
 * instruction here adds to its latency). */
static am_status copy_out(am_tiers *t, const titem *it, const am_buf *content,
                          am_tier_item *info)
{
    const tkey *type = &t->types.keys[it->type];
    const uint32_t *tags = am__tiers_tags(it);
    am_buf *text = &info->text;
    bool own_content = content == NULL && it->tier != AM_TIER_ARCHIVE;
    size_t id_len = it->id_len, extra_len = it->extra_len;
    size_t run = id_len + extra_len + (own_content ? it->stored_len : 0);
    size_t total = run + type->len;
    am_status st;
    char *p;

    if (text->ptr == NULL && text->alloc == NULL)
        text->alloc = t->alloc;
    if (it->ntags > info->tag_cap) {
        void *q = info->tag_store;
        st = am__grow(text->alloc, &q, &info->tag_cap, it->ntags,
                      sizeof(am_str));
        if (st != AM_OK)
            return am__fail(&AM__ERR(t), st, "no memory to copy %u tags",
                            (unsigned)it->ntags);
        info->tag_store = q;
    }
    /* One reservation, so the pointers below stay put while we copy.
     * Sizes are bounded (ids 64 KiB, 255 tags of 255 bytes, content and
     * extra under 4 GiB each), so the sum cannot wrap. */
    for (size_t i = 0; i < it->ntags; i++)
        total += t->tags.keys[tags[i]].len;
    am_buf_clear(text);
    if (am_buf_reserve(text, total) != AM_OK)
        return am__fail(&AM__ERR(t), AM_ENOMEM,
                        "no memory to copy an item out (%zu bytes)", total);
    p = text->ptr;
    memcpy(p, am__tiers_id(it), run); /* id_len >= 1: run > 0 */
    info->id = (am_str){ p, id_len };
    info->extra = (am_str){ p + id_len, extra_len };
    if (content != NULL)
        info->content = (am_str){ content->ptr, content->len };
    else if (own_content)
        info->content = (am_str){ p + id_len + extra_len, it->stored_len };
    else
        info->content = (am_str){ NULL, 0 };
    p += run;
    if (type->len > 0)
        memcpy(p, type->s, type->len);
    info->type = (am_str){ p, type->len };
    p += type->len;
    for (size_t i = 0; i < it->ntags; i++) {
        const tkey *k = &t->tags.keys[tags[i]];
        memcpy(p, k->s, k->len);
        info->tag_store[i] = (am_str){ p, k->len };
        p += k->len;
    }
    text->len = (size_t)(p - text->ptr);
    text->ptr[text->len] = '\0';
    info->tags = it->ntags > 0 ? info->tag_store : NULL;
    info->tag_count = it->ntags;
    copy_fields(info, it);
    return AM_OK;
}

am_status am__tiers_read_out(am_tiers *t, uint32_t slot, am_buf *content,
                             am_tier_item *info)
{
    const titem *it = am__tiers_item(t, slot);
    am_status st = AM_OK;

    if (content != NULL) {
        if (it->tier == AM_TIER_ARCHIVE) {
            st = am__tiers_decompress(t, it, content);
        } else {
            am_buf_clear(content);
            st = am_buf_append(content, am__tiers_content(it),
                               it->stored_len);
            if (st != AM_OK)
                am__fail(&AM__ERR(t), st, "no memory for %u bytes of content",
                         it->stored_len);
        }
        if (st != AM_OK)
            return st;
    }
    if (info != NULL)
        st = copy_out(t, it, content, info);
    return st;
}

/* retrieve and peek: the same read, with or without recording the access
 * (which moves the item's retention score and may flush). */
static am_status read_item(am_tiers *t, am_str id, am_buf *content,
                           am_tier_item *info, bool touch)
{
    am_status st;
    uint32_t slot = 0;
    int64_t now = 0;

    if (t == NULL)
        return AM_EINVAL;
    pthread_mutex_lock(&t->mu);
    st = lookup(t, id, touch ? &now : NULL, &slot);
    if (st == AM_OK && touch) {
        st = am__tiers_touch(t, slot, now);
        if (st != AM_OK)
            am__fail(&AM__ERR(t), st, "no memory to record the access");
    }
    if (st == AM_OK)
        st = am__tiers_read_out(t, slot, content, info);
    if (st == AM_OK && touch)
        st = am__tiers_maybe_flush(t);
    pthread_mutex_unlock(&t->mu);
    return st;
}

am_status am_tiers_retrieve(am_tiers *t, am_str id, am_buf *content,
                            am_tier_item *info)
{
    return read_item(t, id, content, info, true);
}

am_status am_tiers_peek(am_tiers *t, am_str id, am_buf *content,
                        am_tier_item *info)
{
    return read_item(t, id, content, info, false);
}

static am_status json_str(am_buf *out, const char *s, size_t len)
{
    json_t *v = json_stringn(s, len);
    am_status st;

    if (v == NULL)
        return AM_ENOMEM;
    st = am__json_dump_append(v, JSON_ENCODE_ANY, out, NULL);
    json_decref(v);
    return st;
}

am_status am_tiers_describe(am_tiers *t, am_str id, am_buf *out)
{
    am_status st;
    uint32_t slot = 0;
    am_tier_item v;

    if (t == NULL || out == NULL)
        return AM_EINVAL;
    pthread_mutex_lock(&t->mu);
    st = lookup(t, id, NULL, &slot);
    if (st == AM_OK)
        st = view_rec(t, am__tiers_item(t, slot), &v);
    if (st != AM_OK)
        goto out;
    st = am_buf_append(out, "{\"id\":", 6);
    if (st == AM_OK)
        st = json_str(out, v.id.ptr, v.id.len);
    if (st == AM_OK) {
        /* Shortest text that reads back as the same double. */
        char imp[32];
        snprintf(imp, sizeof imp, "%.15g", v.importance);
        if (strtod(imp, NULL) != v.importance)
            snprintf(imp, sizeof imp, "%.17g", v.importance);
        st = am_buf_appendf(out, ",\"tier\":\"%s\",\"created_ms\":%lld,"
                            "\"accessed_ms\":%lld,\"access_count\":%u,"
                            "\"importance\":%s,\"type\":",
                            am_tier_name(v.tier), (long long)v.created_ms,
                            (long long)v.accessed_ms, v.access_count, imp);
    }
    if (st == AM_OK)
        st = json_str(out, v.type.ptr, v.type.len);
    if (st == AM_OK)
        st = am_buf_append(out, ",\"tags\":[", 9);
    for (size_t i = 0; st == AM_OK && i < v.tag_count; i++) {
        if (i > 0)
            st = am_buf_append(out, ",", 1);
        if (st == AM_OK)
            st = json_str(out, v.tags[i].ptr, v.tags[i].len);
    }
    if (st == AM_OK)
        st = am_buf_append(out, "],\"extra\":", 10);
    if (st == AM_OK)
        st = v.extra.len > 0 ? am_buf_append(out, v.extra.ptr, v.extra.len)
                             : am_buf_append(out, "{}", 2);
    if (st == AM_OK)
        st = am_buf_appendf(out, ",\"content_len\":%zu,\"stored_len\":%u,"
                            "\"json\":%s}", v.content_len,
                            am__tiers_item(t, slot)->stored_len,
                            (v.flags & AM_TIER_JSON) ? "true" : "false");
    if (st != AM_OK)
        am__fail(&AM__ERR(t), st, "no memory to describe the item");
out:
    pthread_mutex_unlock(&t->mu);
    return st;
}

am_status am_tiers_delete(am_tiers *t, am_str id)
{
    am_status st;
    uint32_t slot = 0;

    if (t == NULL)
        return AM_EINVAL;
    pthread_mutex_lock(&t->mu);
    st = lookup(t, id, NULL, &slot);
    if (st == AM_OK) {
        st = am__tiers_remove(t, slot);
        if (st != AM_OK)
            am__fail(&AM__ERR(t), st, "no memory to delete the item");
    }
    if (st == AM_OK)
        st = am__tiers_maybe_flush(t);
    pthread_mutex_unlock(&t->mu);
    return st;
}

size_t am_tiers_count(am_tiers *t)
{
    size_t n;

    if (t == NULL)
        return 0;
    pthread_mutex_lock(&t->mu);
    (void)am__tiers_sync(t); /* on failure: the count as last loaded */
    n = t->live;
    pthread_mutex_unlock(&t->mu);
    return n;
}

/* ---- Archive and restore ---- */

/* Archive an item (`restore` false: a no-op when it is archived already)
 * or bring an archived one back to short-term memory (`restore` true: an
 * item that is not archived is AM_ESTATE, naming its tier). */
static am_status archive_or_restore(am_tiers *t, am_str id, bool restore)
{
    am_tier to = restore ? AM_TIER_SHORT_TERM : AM_TIER_ARCHIVE;
    am_status st;
    uint32_t slot = 0;

    if (t == NULL)
        return AM_EINVAL;
    pthread_mutex_lock(&t->mu);
    st = lookup(t, id, NULL, &slot);
    if (st == AM_OK && restore &&
        am__tiers_item(t, slot)->tier != AM_TIER_ARCHIVE)
        st = am__fail(&AM__ERR(t), AM_ESTATE, "'%.*s' is not archived (it is "
                      "in %s)", (int)id.len, id.ptr,
                      am_tier_name((am_tier)am__tiers_item(t, slot)->tier));
    if (st == AM_OK && am__tiers_item(t, slot)->tier != to) {
        st = am__tiers_move(t, slot, to,
                            restore ? AM_TIER_REASON_RESTORE
                                    : AM_TIER_REASON_ARCHIVE);
        if (st != AM_OK && AM__ERR(t).code != st)
            am__fail(&AM__ERR(t), st, "cannot %s '%.*s'",
                     restore ? "restore" : "archive", (int)id.len, id.ptr);
    }
    if (st == AM_OK)
        st = am__tiers_maybe_flush(t);
    pthread_mutex_unlock(&t->mu);
    return st;
}

am_status am_tiers_archive(am_tiers *t, am_str id)
{
    return archive_or_restore(t, id, false);
}

am_status am_tiers_restore(am_tiers *t, am_str id)
{
    return archive_or_restore(t, id, true);
}
