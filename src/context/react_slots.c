/* react_slots.c -- named values with a declared type in am_react.
 *
 * The context dictionary takes any JSON value under any key; a slot adds
 * one promise on top: its value always has the type it was defined with,
 * because every set, and every import, checks it. Slots live in one
 * jansson object, name -> {"type": "<name>", "value": <JSON>}, which is
 * also their export form, so export writes it as is and import only has
 * to check it.
 */
#include <stdlib.h>

#include "context/react_int.h"

static const char *const type_names[] = {
    [AM_SLOT_ANY] = "any", [AM_SLOT_OBJECT] = "object",
    [AM_SLOT_ARRAY] = "array", [AM_SLOT_STRING] = "string",
    [AM_SLOT_NUMBER] = "number", [AM_SLOT_INTEGER] = "integer",
    [AM_SLOT_BOOL] = "bool",
};
static const am__names slot_types = AM__NAMES("slot type", type_names);

const char *am_slot_type_name(am_slot_type t)
{
    return am__name_of(&slot_types, (int)t);
}

static int type_parse(const char *s)
{
    return am__name_find(&slot_types, am_str_c(s));
}

/* The JSON kind of `v` in the words of the type names. */
static const char *kind_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "bool";
    case JSON_NULL: return "null";
    }
    return "?";
}

static bool has_type(const json_t *v, am_slot_type t)
{
    switch (t) {
    case AM_SLOT_ANY: return true;
    case AM_SLOT_OBJECT: return json_is_object(v);
    case AM_SLOT_ARRAY: return json_is_array(v);
    case AM_SLOT_STRING: return json_is_string(v);
    case AM_SLOT_NUMBER: return json_is_number(v);
    case AM_SLOT_INTEGER: return json_is_integer(v);
    case AM_SLOT_BOOL: return json_is_boolean(v);
    }
    return false;
}

#define SHOWN(s) (int)((s).len > 64 ? 64 : (s).len), (s).ptr

/* A NUL-terminated copy of a checked slot name; yours (am__free len+1). */
static am_status name_cstr(am_react *m, am_str name, char **out)
{
    am_status st = am__react_check_text(&AM__ERR(m), name, "slot name");
    if (st != AM_OK)
        return st;
    if (name.len == 0 || memchr(name.ptr, '\0', name.len) != NULL)
        return am__fail(&AM__ERR(m), AM_EINVAL,
                        "slot name: must be non-empty, without NUL");
    *out = am__strndup(m->alloc, name.ptr, name.len);
    if (*out == NULL)
        return am__fail(&AM__ERR(m), AM_ENOMEM, "react: out of memory");
    return AM_OK;
}

static am_slot_type slot_type(const json_t *slot)
{
    return (am_slot_type)type_parse(
        json_string_value(json_object_get(slot, "type")));
}

/* Parse `value_json` and check it against `type`; *out yours. */
static am_status parse_typed(am_react *m, am_str name, am_slot_type type,
                             am_str value_json, json_t **out)
{
    json_t *v = NULL;
    am_status st = am__react_parse_any(value_json, "slot value", &v,
                                       &AM__ERR(m));
    if (st != AM_OK)
        return st;
    if (!has_type(v, type)) {
        st = am__fail(&AM__ERR(m), AM_EINVAL, "slot '%.*s' is of type %s; "
                      "the value is %s", SHOWN(name),
                      am_slot_type_name(type), kind_of(v));
        json_decref(v);
        return st;
    }
    *out = v;
    return AM_OK;
}

static am_status define_locked(am_react *m, am_str name, am_slot_type type,
                               am_str value_json)
{
    char *k = NULL;
    json_t *v = NULL, *slot, *old;
    am_status st;

    if ((unsigned)type >= slot_types.count)
        return am__fail(&AM__ERR(m), AM_EINVAL, "slot '%.*s': type %d is "
                        "not an am_slot_type", SHOWN(name), (int)type);
    st = name_cstr(m, name, &k);
    if (st != AM_OK)
        return st;
    old = m->d.slots != NULL ? json_object_get(m->d.slots, k) : NULL;
    if (old != NULL && slot_type(old) != type) {
        st = am__fail(&AM__ERR(m), AM_EEXIST, "slot '%.*s' exists with "
                      "type %s (not %s)", SHOWN(name),
                      am_slot_type_name(slot_type(old)),
                      am_slot_type_name(type));
        goto out;
    }
    st = parse_typed(m, name, type, value_json, &v);
    if (st != AM_OK)
        goto out;
    if (m->d.slots == NULL && (m->d.slots = json_object()) == NULL) {
        json_decref(v);
        st = am__fail(&AM__ERR(m), AM_ENOMEM, "react: out of memory");
        goto out;
    }
    slot = json_pack("{s:s,s:o}", "type", am_slot_type_name(type), "value",
                     v); /* steals v, also on failure */
    if (slot == NULL || json_object_set_new(m->d.slots, k, slot) != 0) {
        st = am__fail(&AM__ERR(m), AM_ENOMEM, "react: out of memory");
        goto out;
    }
    am__react_run_hooks(m, AM_REACT_EV_SLOT);
out:
    am__free(m->alloc, k, name.len + 1);
    return st;
}

/* The slot named `name`, or NULL with AM_ENOTFOUND recorded in *st. */
static json_t *find(am_react *m, am_str name, char **k, am_status *st)
{
    json_t *slot;

    *st = name_cstr(m, name, k);
    if (*st != AM_OK)
        return NULL;
    slot = m->d.slots != NULL ? json_object_get(m->d.slots, *k) : NULL;
    if (slot == NULL)
        *st = am__fail(&AM__ERR(m), AM_ENOTFOUND, "no slot '%.*s' (define "
                       "it first)", SHOWN(name));
    return slot;
}

static am_status set_locked(am_react *m, am_str name, am_str value_json)
{
    char *k = NULL;
    json_t *v = NULL;
    am_status st;
    json_t *slot = find(m, name, &k, &st);

    if (slot != NULL)
        st = parse_typed(m, name, slot_type(slot), value_json, &v);
    if (st == AM_OK && json_object_set_new(slot, "value", v) != 0)
        st = am__fail(&AM__ERR(m), AM_ENOMEM, "react: out of memory");
    if (k != NULL)
        am__free(m->alloc, k, name.len + 1);
    if (st == AM_OK)
        am__react_run_hooks(m, AM_REACT_EV_SLOT);
    return st;
}

static am_status get_locked(am_react *m, am_str name, am_buf *out,
                            am_slot_type *type)
{
    char *k = NULL;
    am_status st;
    json_t *slot = find(m, name, &k, &st);

    if (slot != NULL) {
        st = am__json_dump(json_object_get(slot, "value"),
                           AM__REACT_JSON_FLAGS, out, &AM__ERR(m));
        if (st == AM_OK && type != NULL)
            *type = slot_type(slot);
    }
    if (k != NULL)
        am__free(m->alloc, k, name.len + 1);
    return st;
}

static am_status remove_locked(am_react *m, am_str name)
{
    char *k = NULL;
    am_status st;

    if (find(m, name, &k, &st) != NULL) {
        json_object_del(m->d.slots, k);
        am__react_run_hooks(m, AM_REACT_EV_SLOT);
    }
    if (k != NULL)
        am__free(m->alloc, k, name.len + 1);
    return st;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static am_status names_locked(am_react *m, am_buf *out)
{
    size_t n = m->d.slots != NULL ? json_object_size(m->d.slots) : 0, i = 0;
    const char **names = NULL;
    const char *key;
    json_t *val, *arr = NULL;
    am_status st = AM_OK;

    if (n > 0) {
        names = am__alloc_array(m->alloc, n, sizeof *names);
        if (names == NULL)
            return am__fail(&AM__ERR(m), AM_ENOMEM, "react: out of memory");
        json_object_foreach(m->d.slots, key, val)
            names[i++] = key;
        qsort(names, n, sizeof *names, cmp_str);
    }
    arr = json_array();
    for (i = 0; arr != NULL && i < n; i++)
        if (json_array_append_new(arr, json_string(names[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    if (arr == NULL)
        st = am__fail(&AM__ERR(m), AM_ENOMEM, "react: out of memory");
    else
        st = am__json_dump(arr, AM__REACT_JSON_FLAGS, out, &AM__ERR(m));
    json_decref(arr);
    am__free(m->alloc, names, n * sizeof *names);
    return st;
}

/* ---- Public calls: the lock around each ---- */

am_status am_react_slot_define(am_react *m, am_str name, am_slot_type type,
                               am_str value_json)
{
    if (m == NULL)
        return AM_EINVAL;
    AM__REACT_LOCKED(am_status, m, define_locked(m, name, type, value_json));
}

am_status am_react_slot_set(am_react *m, am_str name, am_str value_json)
{
    if (m == NULL)
        return AM_EINVAL;
    AM__REACT_LOCKED(am_status, m, set_locked(m, name, value_json));
}

am_status am_react_slot_get(am_react *m, am_str name, am_buf *out,
                            am_slot_type *type)
{
    if (m == NULL || out == NULL)
        return AM_EINVAL;
    AM__REACT_LOCKED(am_status, m, get_locked(m, name, out, type));
}

am_status am_react_slot_remove(am_react *m, am_str name)
{
    if (m == NULL)
        return AM_EINVAL;
    AM__REACT_LOCKED(am_status, m, remove_locked(m, name));
}

am_status am_react_slot_names(am_react *m, am_buf *out)
{
    if (m == NULL || out == NULL)
        return AM_EINVAL;
    AM__REACT_LOCKED(am_status, m, names_locked(m, out));
}

/* ---- Import ---- */

am_status am__react_slots_import(const json_t *v, json_t **out,
                                 am_error *err)
{
    const char *key;
    json_t *slot, *copy;

    *out = NULL;
    if (v == NULL || json_object_size(v) == 0)
        return AM_OK;
    json_object_foreach((json_t *)(uintptr_t)v, key, slot) {
        json_t *type = json_object_get(slot, "type");
        json_t *value = json_object_get(slot, "value");
        int t;

        if (!json_is_object(slot) || !json_is_string(type) || value == NULL ||
            json_object_size(slot) != 2)
            return am__fail(err, AM_EFORMAT, "slots.%s: expected {\"type\", "
                            "\"value\"}", key);
        if (key[0] == '\0')
            return am__fail(err, AM_EFORMAT, "slots: empty slot name");
        t = type_parse(json_string_value(type));
        if (t < 0)
            return am__fail(err, AM_EFORMAT, "slots.%s.type: unknown type "
                            "'%s' (any, object, array, string, number, "
                            "integer, bool)", key, json_string_value(type));
        if (!has_type(value, (am_slot_type)t))
            return am__fail(err, AM_EFORMAT, "slots.%s.value: the slot is "
                            "of type %s; the value is %s", key,
                            type_names[t], kind_of(value));
    }
    copy = json_deep_copy(v);
    if (copy == NULL)
        return am__fail(err, AM_ENOMEM, "react import: out of memory");
    *out = copy;
    return AM_OK;
}
