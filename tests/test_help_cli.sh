#!/usr/bin/env bash
# test_help_cli.sh -- the CLI's one grammar: `--help` of a command group
# lists every subcommand and every option (from the same table that
# dispatches), the manual page and the bash completion come from that table
# too, durations carry units, an empty tiers item is refused, and a store
# created in the working directory is announced.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# store --help: every subcommand and every option, one line each, examples.
check store_help 0 "$cli" store --help
for w in put get del ls namespaces search history undo purge check import \
         export memtool --db --embedder --ns --mode --filter --limit --offset \
         --depth --ttl --meta --text --json examples:; do
    has "store_help_$w" "$out" "$w"
done
has store_help_ttl_units "$out" "30s, 2h, 7d"
cp "$out" "$tmp/store_help"
check store_sub_help 0 "$cli" store put --help
cmp -s "$out" "$tmp/store_help" && pass=$((pass + 1)) ||
    { echo "FAIL store put --help differs from store --help"; fails=$((fails + 1)); }
check tiers_help 0 "$cli" tiers --help
for w in put get search delete archive restore stats optimize policies \
         maintain compact moves --json-content --capacity --now; do
    has "tiers_help_$w" "$out" "$w"
done
has tiers_help_cleanup_units "$out" "cleanup AGE"
has tiers_help_cleanup_units2 "$out" "(30d, 12h, 90m, 1w)"
# Unknown subcommands name the table's rows.
check store_unknown 2 "$cli" store fly
has store_unknown_msg "$err" "unknown subcommand 'fly' (put, get, del"
check tiers_unknown 2 "$cli" tiers fly --db "$tmp/t.db"
has tiers_unknown_msg "$err" "unknown subcommand 'fly' (put, get, search"
check store_few 2 "$cli" store get onlyns --db "$tmp/s.db"
has store_few_msg "$err" "get expects at least 2 arguments: store get NS KEY"

# The manual page and the completion come from the same tables.
check man 0 "$cli" help --man
has man_th "$out" ".TH AGENTMEM 1"
cp "$out" "$tmp/man"
"$cli" --help | awk '/^commands:/ {on=1; next} /^$/ {on=0} on {print $1}' >"$tmp/cmds"
[ -s "$tmp/cmds" ] && pass=$((pass + 1)) || { echo "FAIL no commands in --help"; fails=$((fails + 1)); }
while read -r c; do has "man_has_$c" "$tmp/man" ".SS $c"; done <"$tmp/cmds"
for w in '\-\-ttl' '\-\-embedder' '\-\-json\-content' 'tiers put'; do
    has "man_$w" "$tmp/man" "$w"
done
if command -v man >/dev/null 2>&1 && command -v groff >/dev/null 2>&1; then
    MANWIDTH=80 man -l "$tmp/man" >"$out" 2>"$err" && [ ! -s "$err" ] &&
        pass=$((pass + 1)) || { echo "FAIL man -l warns:"; cat "$err"; fails=$((fails + 1)); }
fi
check completion 0 "$cli" help --completion
cp "$out" "$tmp/comp"
complete_words() { # the completions of the words given
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1));
             _agentmem; echo "${COMPREPLY[*]}"' _ "$tmp/comp" "$@"
}
[ "$(complete_words agentmem sto)" = store ] && pass=$((pass + 1)) ||
    { echo "FAIL completion of 'sto': $(complete_words agentmem sto)"; fails=$((fails + 1)); }
[ "$(complete_words agentmem tiers com)" = compact ] && pass=$((pass + 1)) ||
    { echo "FAIL completion of 'tiers com'"; fails=$((fails + 1)); }
[ "$(complete_words agentmem store put --tt)" = --ttl ] && pass=$((pass + 1)) ||
    { echo "FAIL completion of 'store put --tt'"; fails=$((fails + 1)); }

# Durations name their unit.
db="$tmp/d.db"
check ttl_2h 0 "$cli" store put ns k '{"v":1}' --ttl 2h --db "$db" --embedder none
check ttl_get 0 "$cli" store get ns k --db "$db" --embedder none
has ttl_get_value "$out" '{"v":1}'
check ttl_ms 0 "$cli" store put ns k2 '{"v":2}' --ttl 1500 --db "$db" --embedder none
check ttl_bad_unit 2 "$cli" store put ns k '{"v":1}' --ttl 5x --db "$db"
has ttl_bad_unit_msg "$err" "unknown unit 'x'"
check ttl_huge 2 "$cli" store put ns k '{"v":1}' --ttl 99999999999w --db "$db"
has ttl_huge_msg "$err" "too large"
check ttl_negative 2 "$cli" store put ns k '{"v":1}' --ttl -5s --db "$db"
has ttl_negative_msg "$err" "not a duration"

# tiers put with no text is refused; nothing is stored.
check tiers_put_empty 2 "$cli" tiers put empty --db "$tmp/t.db" </dev/null
has tiers_put_empty_msg "$err" "text is empty"
check tiers_get_empty 4 "$cli" tiers get empty --db "$tmp/t.db"

# A store made in the working directory is announced, once, on stderr.
mkdir "$tmp/wd"
(cd "$tmp/wd" && "$cli" store put a k '{"v":1}' --embedder none) >"$out" 2>"$err"
has announce "$err" "created a new store agentmem.db"
[ -s "$out" ] && { echo "FAIL announcement on stdout"; fails=$((fails + 1)); } || pass=$((pass + 1))
(cd "$tmp/wd" && "$cli" store put a k2 '{"v":1}' --embedder none) >"$out" 2>"$err"
hasnt announce_once "$err" "created"

# Every option a command's source parses is in the --help of its commands
# (the tables), so help, manual and completion cannot miss one. The old
# spellings that are refused with a pointer to the new one are exempt.
src=${AM_SOURCE_DIR:?}
renamed=" --now --llm-provider --llm-base-url --llm-api-key-env --output --timeout-ms --input --cached --extra --recent-days "
drift() { # drift FILE CMD...
    local file=$1 flag; shift
    : >"$tmp/h"
    for c in "$@"; do "$cli" $c --help >>"$tmp/h"; done
    for flag in $(grep -o '"--[a-z][a-z-]*' "$src/src/cli/$file" | tr -d '"' | sort -u); do
        case $renamed in *" $flag "*) continue ;; esac
        grep -qF -- "$flag " "$tmp/h" && pass=$((pass + 1)) ||
            { echo "FAIL $file: $flag is parsed but not in '$*' --help"; fails=$((fails + 1)); }
    done
}
drift cmd_conv.c conv
drift cmd_tokens.c tokens
drift cmd_models.c models cost
drift cmd_context.c trim compress replay
drift cmd_llm.c llm embed
drift cli_store.c store recall
drift cmd_store.c store recall
drift cmd_recall.c store recall
drift cmd_tiers.c tiers
drift cmd_serve.c serve mcp
# Each command's --help has its options and an example, and the manual
# and the completion carry them.
for c in conv tokens models cost trim compress replay llm embed recall serve mcp; do
    check "help_$c" 0 "$cli" $c --help
    has "help_${c}_options" "$out" "options:"
    has "help_${c}_examples" "$out" "examples:"
done
check help_trim_usage 0 "$cli" trim --help
has help_trim_usage_line "$out" "agentmem trim FILE [OPTIONS]"
has help_trim_max_tokens "$out" "--max-tokens N"
for w in '\-\-max\-tokens' '\-\-force' '\-\-out\-format' '\-\-api\-key\-env' 'tokens count' 'recall index'; do
    has "man_$w" "$tmp/man" "$w"
done
[ "$(complete_words agentmem conv '')" = "convert show stats" ] && pass=$((pass + 1)) ||
    { echo "FAIL conv completion: $(complete_words agentmem conv '')"; fails=$((fails + 1)); }
case " $(complete_words agentmem trim x.json --max) " in
    *" --max-messages --max-tokens "*) pass=$((pass + 1)) ;;
    *) echo "FAIL trim completion: $(complete_words agentmem trim x.json --max)"; fails=$((fails + 1)) ;;
esac
case " $(complete_words agentmem trim --ou) " in
    *" --out --out-format "*) pass=$((pass + 1)) ;;
    *) echo "FAIL trim completion at 2: $(complete_words agentmem trim --ou)"; fails=$((fails + 1)) ;;
esac
check conv_unknown 2 "$cli" conv fly
has conv_unknown_msg "$err" "unknown subcommand 'fly' (convert, show, stats)"
check tokens_unknown 2 "$cli" tokens fly
has tokens_unknown_msg "$err" "unknown subcommand 'fly' (count, encode, decode)"
check llm_unknown 2 "$cli" llm fly
has llm_unknown_msg "$err" "unknown subcommand 'fly' (chat)"
# The examples of every --help run as written, from a copy of the shipped
# examples (llm and embed need a provider, so they are left out).
mkdir "$tmp/ex" && cp -r "$src/examples" "$tmp/ex/"
for c in conv tokens models cost trim compress replay store recall tiers; do
    "$cli" $c --help | awk '/^examples:/ {on=1; next} /^$/ {on=0} on' |
    while read -r line; do
        (cd "$tmp/ex" && PATH="$(dirname "$cli"):$PATH" bash -c "$line") \
            >/dev/null 2>"$tmp/ex_err" ||
            { echo "FAIL example of $c --help: $line"; cat "$tmp/ex_err"; exit 1; }
    done && pass=$((pass + 1)) || fails=$((fails + 1))
done

finish
