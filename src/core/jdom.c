/* jdom.c -- a minimal JSON tree built on the cursor scanner.
 *
 * Nodes are allocated from the scanner's arena and linked as first-child /
 * next-sibling, so building a tree is a bump allocation per value and
 * freeing it is freeing the arena. Values keep their raw text, which is how
 * tool arguments, structured data and provider reasoning items pass
 * through agentmem byte for byte.
 */
#include <string.h>

#include "jscan.h"

const char *am__jtype_name(am__jtype t)
{
    switch (t) {
    case AM__J_NULL: return "null";
    case AM__J_BOOL: return "a boolean";
    case AM__J_NUM: return "a number";
    case AM__J_STR: return "a string";
    case AM__J_ARR: return "an array";
    default: return "an object";
    }
}

static am__jnode *new_node(am__js *js, am__jtype t, size_t pos)
{
    am__jnode *n = am__arena_alloc(js->tmp, sizeof *n);
    if (n == NULL)
        return NULL;
    memset(n, 0, sizeof *n);
    n->type = t;
    n->pos = pos;
    return n;
}

static am_status oom(am__js *js)
{
    return am__fail(js->err, AM_ENOMEM, "%s: out of memory", js->what);
}

am_status am__jdom_parse(am__js *js, am__jnode **out)
{
    char c = am__js_peek(js);
    size_t pos = js->pos;
    am__jnode *n;
    am_status st;

    switch (c) {
    case '"':
        if ((n = new_node(js, AM__J_STR, pos)) == NULL)
            return oom(js);
        if ((st = am__js_string(js, &n->str)) != AM_OK)
            return st;
        break;
    case '{':
    case '[': {
        am__jnode **tail;
        char close = c == '{' ? '}' : ']';
        if (++js->depth > AM__JS_MAX_DEPTH)
            return am__js_fail(js, pos, "nesting deeper than %d",
                               AM__JS_MAX_DEPTH);
        if ((n = new_node(js, c == '{' ? AM__J_OBJ : AM__J_ARR, pos)) ==
            NULL)
            return oom(js);
        tail = &n->first;
        js->pos++;
        if (!am__js_accept(js, close)) {
            for (;;) {
                am_str key = { "", 0 };
                am__jnode *kid;
                if (c == '{') {
                    if ((st = am__js_string(js, &key)) != AM_OK ||
                        (st = am__js_expect(js, ':')) != AM_OK)
                        return st;
                }
                if ((st = am__jdom_parse(js, &kid)) != AM_OK)
                    return st;
                kid->key = key;
                *tail = kid;
                tail = &kid->next;
                n->n++;
                if (am__js_accept(js, ','))
                    continue;
                if (am__js_accept(js, close))
                    break;
                return am__js_fail(js, js->pos, "%s, expected ',' or '%c'",
                                   js->pos >= js->len
                                       ? "unexpected end of input"
                                       : "unexpected character",
                                   close);
            }
        }
        js->depth--;
        break;
    }
    case 't':
    case 'f':
        if ((n = new_node(js, AM__J_BOOL, pos)) == NULL)
            return oom(js);
        if ((st = am__js_bool(js, &n->b)) != AM_OK)
            return st;
        break;
    case 'n':
        if ((n = new_node(js, AM__J_NULL, pos)) == NULL)
            return oom(js);
        if (!am__js_null(js))
            return am__js_fail(js, pos, "unexpected character, expected a "
                               "value");
        break;
    default: {
        am_str span;
        if ((st = am__js_value(js, &span)) != AM_OK)
            return st;
        if ((n = new_node(js, AM__J_NUM, pos)) == NULL)
            return oom(js);
        break;
    }
    }
    n->raw.ptr = js->s + pos;
    n->raw.len = js->pos - pos;
    *out = n;
    return AM_OK;
}

const am__jnode *am__jobj_get(const am__jnode *obj, const char *key)
{
    size_t kl = strlen(key);
    const am__jnode *found = NULL;

    if (obj == NULL || obj->type != AM__J_OBJ)
        return NULL;
    for (const am__jnode *k = obj->first; k != NULL; k = k->next)
        if (k->key.len == kl && memcmp(k->key.ptr, key, kl) == 0)
            found = k;
    return found;
}
