#!/usr/bin/env bash
# bench-localnet.sh: throughput and latency of a fresh local network under a
# rising offered load.
#
# It builds tallyd, creates a new N-validator network (tallyd testnet init),
# runs it in the background (tallyd testnet start), then runs `tallyd load`
# at each rate in RATES for DURATION and prints offered vs committed tx/s and
# submit-to-commit latency, with the consensus settings the nodes ran with.
# Every process it starts is stopped on exit, including Ctrl-C.
#
# Environment (defaults in brackets):
#   RATES           offered tx/s, space separated   [250 500 1000 1500 2000 3000 4000]
#   DURATION        load time per rate              [20s]
#   VALIDATORS      validators in the network       [4]
#   ACCOUNTS        load signing accounts per run   [100]
#   WORKERS         concurrent senders (0 = auto)   [0]
#   MIX             message mix                     [add_member]
#   DRAIN           max wait for stragglers         [30s]
#   TIMEOUT_COMMIT  consensus timeout_commit, e.g. 500ms  [CometBFT default]
#   SKIP_TIMEOUT_COMMIT  1 to set skip_timeout_commit     [0]
#   BASE_PORT       first port of the network       [27000]
#   OUT             where network, logs and JSON go [a new temp dir]
#   KEEP            1 keeps OUT after exit          [1 if OUT was given, else 0]
#   TALLYD          a prebuilt tallyd to use        [built from this checkout]
#
# Example: RATES="200 1000" DURATION=10s scripts/bench-localnet.sh
set -euo pipefail

RATES=${RATES:-"250 500 1000 1500 2000 3000 4000"}
DURATION=${DURATION:-20s}
VALIDATORS=${VALIDATORS:-4}
ACCOUNTS=${ACCOUNTS:-100}
WORKERS=${WORKERS:-0}
MIX=${MIX:-add_member}
DRAIN=${DRAIN:-30s}
TIMEOUT_COMMIT=${TIMEOUT_COMMIT:-}
SKIP_TIMEOUT_COMMIT=${SKIP_TIMEOUT_COMMIT:-0}
BASE_PORT=${BASE_PORT:-27000}
if [[ -n "${OUT:-}" ]]; then KEEP=${KEEP:-1}; else OUT=$(mktemp -d -t tally-bench.XXXXXX); KEEP=${KEEP:-0}; fi

command -v jq >/dev/null || { echo "bench-localnet: jq is needed to read the reports" >&2; exit 1; }
cd "$(dirname "$0")/.."
mkdir -p "$OUT"
NET="$OUT/localnet"
if [[ -e "$NET" ]]; then echo "bench-localnet: $NET already exists; use a new OUT" >&2; exit 1; fi

NET_PID=""
LOAD_PID=""
cleanup() {
	local rc=$? kids=""
	trap - EXIT INT TERM
	if [[ -n "$LOAD_PID" ]]; then
		kill -TERM "$LOAD_PID" 2>/dev/null || true
		wait "$LOAD_PID" 2>/dev/null || true
	fi
	if [[ -n "$NET_PID" ]] && kill -0 "$NET_PID" 2>/dev/null; then
		kids=$(pgrep -P "$NET_PID" || true) # the node processes
		echo "stopping the network (pid $NET_PID)..." >&2
		kill -TERM "$NET_PID" 2>/dev/null || true
		for _ in $(seq 1 40); do kill -0 "$NET_PID" 2>/dev/null || break; sleep 0.5; done
		kill -KILL "$NET_PID" 2>/dev/null || true
		wait "$NET_PID" 2>/dev/null || true
		for pid in $kids; do kill -KILL "$pid" 2>/dev/null || true; done
	fi
	if [[ "$KEEP" == 1 ]]; then echo "kept $OUT" >&2; else rm -rf "$OUT"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z "${TALLYD:-}" ]]; then
	TALLYD="$OUT/tallyd"
	echo "building tallyd..." >&2
	go build -o "$TALLYD" ./cmd/tallyd
fi

init_flags=(--validators "$VALIDATORS" --output "$NET" --base-port "$BASE_PORT")
[[ -n "$TIMEOUT_COMMIT" ]] && init_flags+=(--timeout-commit "$TIMEOUT_COMMIT")
[[ "$SKIP_TIMEOUT_COMMIT" == 1 ]] && init_flags+=(--skip-timeout-commit)
"$TALLYD" testnet init "${init_flags[@]}" >"$OUT/init.log"

"$TALLYD" testnet start "$NET" >"$OUT/testnet.log" 2>&1 &
NET_PID=$!
echo "starting $VALIDATORS validators (log $OUT/testnet.log)..." >&2
for _ in $(seq 1 240); do
	grep -q "The network is committing blocks" "$OUT/testnet.log" && break
	kill -0 "$NET_PID" 2>/dev/null || { echo "the network did not start:" >&2; cat "$OUT/testnet.log" >&2; exit 1; }
	sleep 0.5
done
grep -q "The network is committing blocks" "$OUT/testnet.log" || { echo "the network did not start in 120s" >&2; exit 1; }

ENDPOINTS=$(jq -r '[.nodes[].rpc] | join(",")' "$NET/testnet.json")
KEYRING=$(jq -r '.keyring_dir' "$NET/testnet.json")
ADMIN="$(jq -r '.nodes[0].agency' "$NET/testnet.json")-admin"
CFG="$(jq -r '.nodes[0].home' "$NET/testnet.json")/config"

# Waits until no node has transactions left in its mempool, so one rate's
# backlog does not count towards the next.
wait_mempools_empty() {
	local rpc n total
	for _ in $(seq 1 120); do
		total=0
		for rpc in ${ENDPOINTS//,/ }; do
			n=$(curl -fsS "${rpc/tcp:/http:}/num_unconfirmed_txs" 2>/dev/null | jq -r '.result.n_txs // "0"') || n=0
			total=$((total + n))
		done
		[[ "$total" == 0 ]] && return 0
		sleep 0.5
	done
	echo "warning: mempools still hold $total txs" >&2
}

for rate in $RATES; do
	wait_mempools_empty
	echo "rate $rate tx/s for $DURATION..." >&2
	# In the background so that a signal reaches the trap at once.
	"$TALLYD" load --keyring-backend test --keyring-dir "$KEYRING" --from "$ADMIN" \
		--endpoints "$ENDPOINTS" --rate "$rate" --duration "$DURATION" --accounts "$ACCOUNTS" \
		--workers "$WORKERS" --mix "$MIX" --drain "$DRAIN" --json \
		>"$OUT/load-$rate.json" 2>"$OUT/load-$rate.log" &
	LOAD_PID=$!
	if ! wait "$LOAD_PID"; then
		LOAD_PID=""
		echo "load at $rate tx/s failed:" >&2
		cat "$OUT/load-$rate.log" >&2
		exit 1
	fi
	LOAD_PID=""
done

toml() { sed -n "s/^$1 *= *\"\{0,1\}\([^\"]*\)\"\{0,1\}\$/\1/p" "$CFG/config.toml" | head -1; }
echo
echo "Tally $VALIDATORS-validator localnet on $(nproc) CPUs, mix $MIX, $ACCOUNTS accounts, $DURATION per rate"
echo "consensus: timeout_propose $(toml timeout_propose), timeout_prevote $(toml timeout_prevote)," \
	"timeout_precommit $(toml timeout_precommit), timeout_commit $(toml timeout_commit), skip_timeout_commit $(toml skip_timeout_commit)"
echo "block: max_bytes $(jq -r '.consensus_params.block.max_bytes' "$CFG/genesis.json"), max_gas $(jq -r '.consensus_params.block.max_gas' "$CFG/genesis.json");" \
	"mempool: size $(toml size), cache_size $(toml cache_size), recheck $(toml recheck)"
echo
{
	echo "offered submitted accepted rejected errors committed failed pending commit_tx/s p50_ms p95_ms p99_ms blocks tx/block"
	for rate in $RATES; do
		jq -r '[.offered_rate, (.submitted|tostring), .accepted, .rejected_total, .broadcast_errors_total,
			.committed, .committed_failed_total, .pending, (.committed_rate*10|round/10),
			(.latency.p50_ms|round), (.latency.p95_ms|round), (.latency.p99_ms|round), .blocks,
			(.avg_txs_per_block*10|round/10)] | map(tostring) | join(" ")' "$OUT/load-$rate.json"
	done
} | column -t
for rate in $RATES; do
	jq -r --arg r "$rate" '(.rejected[] | "  at \($r) tx/s rejected \(.count) × \(.codespace)/\(.code): \(.example_log)"),
		(.broadcast_errors[] | "  at \($r) tx/s broadcast error \(.count) × \(.error)"),
		(if .steady_window.whole_run then "  at \($r) tx/s fewer than two blocks fell inside the load: its commit rate spans the whole run (raise DURATION)" else empty end),
		(if .client_dropped > 0 then "  at \($r) tx/s the client could not keep up: \(.client_dropped) not sent (raise WORKERS)" else empty end)' \
		"$OUT/load-$rate.json"
done
echo "reports: $OUT/load-<rate>.json$([[ "$KEEP" == 1 ]] || echo ' (removed on exit; set KEEP=1 to keep)')"
