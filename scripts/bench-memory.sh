#!/usr/bin/env bash
# bench-memory.sh: resident memory of each validator over a long run at
# saturation, and disk bytes per committed transaction.
#
# It writes a fresh local network (tallyd testnet init, validators only),
# optionally changes app.toml settings on every node, starts it, offers
# `tallyd load --mix` at RATE for DURATION, and every INTERVAL records each
# node's resident set (VmRSS of its process) into OUT/rss.csv. At the end
# it saves a heap profile of the first node (pprof), sums the transactions
# of every block, and prints the resident-memory curve (max per node), the
# size of each part of a node's data directory and its bytes per committed
# transaction.
#
# Environment (defaults in brackets):
#   RATE          offered tx/s (above saturation: committed < offered)  [500]
#   DURATION      load time, e.g. 30m or 300s                   [30m]
#   INTERVAL      seconds between samples                       [30]
#   VALIDATORS    validators                                    [4]
#   APP_TOML      app.toml settings for every node, "key=value" space
#                 separated, e.g. "memory_limit_mib=0 pruning_keep_recent=100"  []
#   SOME_NODES    indexes of nodes (from 0) that also get APP_TOML_SOME, e.g.
#                 "2 3" with APP_TOML_SOME="pruning_keep_recent=100" to
#                 compare two settings in one run                []
#   APP_TOML_SOME settings for SOME_NODES only, as APP_TOML        []
#   NODE_ENV      environment for the nodes, e.g. "GOMEMLIMIT=400MiB"  []
#   BASE_PORT     first port of the network                     [29000]
#   OUT           where the network, logs and results go        [a new temp dir]
#   TALLYD        a prebuilt tallyd                             [built from this checkout]
#
# Example: RATE=500 DURATION=30m scripts/bench-memory.sh
set -euo pipefail

RATE=${RATE:-500}
DURATION=${DURATION:-30m}
INTERVAL=${INTERVAL:-30}
VALIDATORS=${VALIDATORS:-4}
APP_TOML=${APP_TOML:-}
SOME_NODES=${SOME_NODES:-}
APP_TOML_SOME=${APP_TOML_SOME:-}
NODE_ENV=${NODE_ENV:-}
BASE_PORT=${BASE_PORT:-29000}
OUT=${OUT:-$(mktemp -d -t tally-mem.XXXXXX)}

command -v jq >/dev/null || { echo "bench-memory: jq is needed" >&2; exit 1; }
cd "$(dirname "$0")/.."
mkdir -p "$OUT"
NET="$OUT/net"
[[ -e "$NET" ]] && { echo "bench-memory: $OUT already holds a network; use a new OUT" >&2; exit 1; }
if [[ -z "${TALLYD:-}" ]]; then
	TALLYD="$OUT/tallyd"
	echo "building tallyd..." >&2
	go build -o "$TALLYD" ./cmd/tallyd
fi

NET_PID=""
LOAD_PID=""
cleanup() {
	trap - EXIT INT TERM
	[[ -n "$LOAD_PID" ]] && kill -TERM "$LOAD_PID" 2>/dev/null || true
	if [[ -n "$NET_PID" ]] && kill -0 "$NET_PID" 2>/dev/null; then
		kill -TERM "$NET_PID" 2>/dev/null || true # testnet start stops its nodes
		for _ in $(seq 1 60); do kill -0 "$NET_PID" 2>/dev/null || break; sleep 0.5; done
		kill -KILL "$NET_PID" 2>/dev/null || true
	fi
}
trap cleanup EXIT INT TERM

"$TALLYD" testnet init --validators "$VALIDATORS" --council=false --output "$NET" --base-port "$BASE_PORT" >"$OUT/init.log"
mapfile -t HOMES < <(jq -r '.nodes[].home' "$NET/testnet.json")
mapfile -t NAMES < <(jq -r '.nodes[].name' "$NET/testnet.json")
for i in "${!HOMES[@]}"; do
	home=${HOMES[$i]} settings=$APP_TOML
	[[ " $SOME_NODES " == *" $i "* ]] && settings+=" $APP_TOML_SOME"
	for kv in $settings; do
		key=${kv%%=*} val=${kv#*=}
		if grep -q "^$key = " "$home/config/app.toml"; then
			sed -i "s|^$key = .*|$key = $val|" "$home/config/app.toml"
		else
			echo "$key = $val" >>"$home/config/app.toml"
		fi
	done
done

# shellcheck disable=SC2086 # NODE_ENV is a list of assignments
env $NODE_ENV "$TALLYD" testnet start --demo=false --explorer=false "$NET" >"$OUT/testnet.log" 2>&1 &
NET_PID=$!
for _ in $(seq 1 240); do
	grep -q "The network is committing blocks" "$OUT/testnet.log" && break
	kill -0 "$NET_PID" 2>/dev/null || { echo "the network did not start:" >&2; cat "$OUT/testnet.log" >&2; exit 1; }
	sleep 0.5
done
# Each node is a `tallyd start --home HOME` child; find its pid by its home.
declare -A PID
for i in "${!HOMES[@]}"; do
	for p in $(pgrep -P "$NET_PID"); do
		tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- "--home ${HOMES[$i]} *$" && PID[$i]=$p
	done
	[[ -n "${PID[$i]:-}" ]] || { echo "bench-memory: no process for ${HOMES[$i]}" >&2; exit 1; }
done

ENDPOINTS=$(jq -r '[.nodes[].rpc] | join(",")' "$NET/testnet.json")
RPC0=$(jq -r '.nodes[0].rpc' "$NET/testnet.json" | sed 's|tcp:|http:|')
PPROF0=$(jq -r '.nodes[0].pprof' "$NET/testnet.json")
echo "load: $RATE tx/s for $DURATION on $VALIDATORS validators (out: $OUT)" >&2
"$TALLYD" load --keyring-backend test --keyring-dir "$NET/keyring-test" --from "${NAMES[0]}-admin" \
	--endpoints "$ENDPOINTS" --rate "$RATE" --duration "$DURATION" --mix --json \
	>"$OUT/load.json" 2>"$OUT/load.log" &
LOAD_PID=$!

rss_mib() { awk '/^VmRSS:/ {printf "%d", $2/1024}' "/proc/$1/status" 2>/dev/null || echo 0; }
{
	printf "seconds,load1"
	for n in "${NAMES[@]}"; do printf ",%s_rss_mib" "$n"; done
	echo
} >"$OUT/rss.csv"
start=$(date +%s)
samples=0
while kill -0 "$LOAD_PID" 2>/dev/null; do
	line="$(($(date +%s) - start)),$(cut -d' ' -f1 /proc/loadavg)"
	for i in "${!HOMES[@]}"; do line+=",$(rss_mib "${PID[$i]}")"; done
	echo "$line" >>"$OUT/rss.csv"
	echo "$line" >&2
	# A heap profile of the first node every 10 samples, under load.
	if ((++samples % 10 == 0)); then
		curl -fsS -o "$OUT/heap-${NAMES[0]}-$(($(date +%s) - start))s.pb.gz" "http://$PPROF0/debug/pprof/heap" || true
	fi
	for _ in $(seq 1 "$INTERVAL"); do kill -0 "$LOAD_PID" 2>/dev/null || break; sleep 1; done
done
wait "$LOAD_PID" || true
LOAD_PID=""
curl -fsS -o "$OUT/heap-${NAMES[0]}-end.pb.gz" "http://$PPROF0/debug/pprof/heap" || echo "warning: no heap profile" >&2

# Every transaction in the chain (load and setup), from the block metas.
height=$(curl -fsS "$RPC0/status" | jq -r '.result.sync_info.latest_block_height')
txs=0
for ((lo = 1; lo <= height; lo += 20)); do
	hi=$((lo + 19 > height ? height : lo + 19))
	n=$(curl -fsS "$RPC0/blockchain?minHeight=$lo&maxHeight=$hi" | jq '[.result.block_metas[].num_txs|tonumber]|add')
	txs=$((txs + n))
done
cleanup

echo
echo "Resident memory (MiB), every ${INTERVAL}s; load average in column 2 ($OUT/rss.csv):"
column -s, -t <"$OUT/rss.csv"
echo
echo "max resident MiB per node:"
for i in "${!NAMES[@]}"; do
	printf "  %-10s %s\n" "${NAMES[$i]}" "$(cut -d, -f$((i + 3)) "$OUT/rss.csv" | tail -n +2 | sort -n | tail -1)"
done
echo
jq -r '"load: offered \(.offered_rate) tx/s, committed \(.committed_rate|round) tx/s (steady window)"' "$OUT/load.json" 2>/dev/null || true
echo "chain: $height blocks, $txs transactions"
echo
echo "Disk per node (bytes, and bytes per committed transaction):"
printf "  %-10s %14s %14s %14s %14s %14s %10s\n" node state blocks tx_index other total bytes/tx
for i in "${!HOMES[@]}"; do
	d="${HOMES[$i]}/data"
	st=$(du -sb "$d/tally" | cut -f1)
	bl=$(du -sb "$d/blockstore.db" | cut -f1)
	ix=$(du -sb "$d/tx_index.db" | cut -f1)
	all=$(du -sb "$d" | cut -f1)
	printf "  %-10s %14s %14s %14s %14s %14s %10s\n" "${NAMES[$i]}" "$st" "$bl" "$ix" $((all - st - bl - ix)) "$all" \
		"$((st / txs))/$((bl / txs))/$((ix / txs))"
done
echo "(bytes/tx: state/blocks/tx_index; app.toml: ${APP_TOML:-defaults}; nodes ${SOME_NODES:-none} also: ${APP_TOML_SOME:-nothing}; node env: ${NODE_ENV:-none})"
