#!/usr/bin/env bash
# bench-localnet.sh: Tally's throughput and latency against CometBFT's own
# kvstore example app, on the same machine, in one invocation.
#
# 1. CometBFT v0.40.0's kvstore app (the `cometbft` binary, --proxy_app=kvstore)
#    on a 4-validator network with Tally's consensus, mempool and p2p settings
#    (each node's config.toml is a copy of the Tally node's, only addresses
#    changed; the genesis takes Tally's block limits), loaded with CometBFT's
#    own `loadtime` tool (test/loadtime, same module version) at each rate.
#    Both tools are built by `go install …@v0.40.0` (pinned) into TOOLS.
# 2. A fresh Tally network of the same shape (tallyd testnet init), loaded with
#    `tallyd load` at the same rates. Same shape means VALIDATORS node
#    processes and nothing else on either side: the Tally network is written
#    with --council=false (no Harbourside Council full node, which the demo
#    would vote in as a fifth validator) and started with --demo=false
#    --explorer=false (no demo transactions during the load, no explorer
#    polling). Before this, Tally ran five validators against kvstore's four:
#    a fifth of every Tally node CPU profile was the council's node.
# The networks run one after the other (never at once: they would share the
# CPU). It prints both tables and the ratio of committed rates, rate by rate
# and peak to peak, and the no-collapse figures: committed at the highest rate
# against the peak, and how fast refused clients were answered.
#
# How each side is measured:
#   committed tx/s  load transactions that succeeded in the blocks of a steady window (after
#                   a 2 s warm-up, before the load stopped) over its duration.
#                   Both by the blocks' header times: Tally's load client
#                   reads every block and windows it by its header time
#                   (not by when it first saw it, which lags under
#                   overload); kvstore: loadtime's report (block time of each tx).
#   latency         Tally: send to the block being seen by the load client.
#                   kvstore: loadtime's, tx creation to block time (BFT time).
#   offered         both send RATE tx/s spread over the 4 nodes (loadtime:
#                   RATE/4 a second on one connection to each node; tallyd
#                   load: open loop, each tx at its time whatever the nodes
#                   answered, so sent_tx/s is what the nodes really got).
#   transport       both send broadcast_tx_sync as websocket frames to each
#                   node's /websocket (loadtime: one websocket a node;
#                   tallyd load --transport ws: 8 a node, answers read and
#                   counted), unless TRANSPORT says otherwise.
#   load1           the machine's 1-minute load average during each rate
#                   (min-max, sampled every 2 s): other work on the machine
#                   shows here.
#
# Environment (defaults in brackets):
#   RATES           offered tx/s, space separated   [500 1000 2000 4000]
#   DURATION        load time per rate, in seconds (15 or 15s)  [15s]
#   VALIDATORS      validators in each network      [4]
#   ACCOUNTS        load signing accounts per party [50]
#   WORKERS         tallyd load's most broadcasts waiting for answers
#                   (it sends open loop; 0 = two seconds of the rate)  [0]
#   MIX             tallyd load mix ("all": every module)  [all]
#   TRANSPORT       how tallyd load sends broadcasts: ws (a frame each over
#                   the node's websocket, as loadtime sends kvstore's) or
#                   http (an HTTP POST each, over kept-alive connections);
#                   empty passes no --transport (a TALLYD from before the
#                   flag). LOAD_FLAGS and LOAD_FLAGS_BEFORE come after it,
#                   so a --transport there wins for its network   [ws]
#   KV_TX_SIZE      kvstore tx size in bytes (loadtime -s)  [the mean size of
#                   Tally's mixed transactions in a short run: 220]
#   FRESH           1 runs each rate on a fresh network of its own (every
#                   network: kvstore, TALLYD_BEFORE's, TALLYD's), so every
#                   rate starts from the same state. Otherwise the rates run
#                   in order on one network a side, and a later rate meets
#                   the state the earlier ones wrote: on IAVL v1 the work
#                   per transaction grows as the state outgrows the node
#                   cache, so "at the highest offered rate … of the peak"
#                   then mixes overload with the run's own growth (5 December,
#                   defaults: 4,800 offered run after 2,400 committed 83%
#                   of what 2,400 did; each run first, 94%)   [0]
#   KVSTORE         0 skips the kvstore side         [1]
#   TALLY           0 skips the Tally side           [1]
#   DRAIN           max wait for stragglers          [30s]
#   TIMEOUT_COMMIT  consensus timeout_commit, e.g. 500ms  [CometBFT default]
#   SKIP_TIMEOUT_COMMIT  1 to set skip_timeout_commit     [0]
#   SNAPSHOT_INTERVAL  every Tally node's app.toml snapshot_interval, on both
#                   Tally networks (`testnet init --snapshot-interval`): the
#                   node's own default, 1,000 blocks, not the 100 `testnet
#                   init` writes for its demo's state-sync joiner. At 100 all
#                   four nodes on these two cores export their whole tree at
#                   the same heights, and an export that falls in a rate
#                   takes a quarter of the machine (28% of the nodes' CPU
#                   at 4,800 offered, 4 December); kvstore takes no
#                   snapshots. Empty: testnet init's own default   [1000]
#   INVARIANT_CHECK_EVERY  every Tally node's app.toml invariant_check_every
#                   on both Tally networks. The node's default walks the
#                   whole state every 10 minutes, the first time a minute
#                   after it starts, so in a bench all four nodes walk it at
#                   once inside a rate: at 4,800 offered on the defaults it
#                   took a quarter of their CPU (3.6-3.9 s a node of the
#                   40 s profiled, 5 December) where a validator of its own
#                   spends that once in ten minutes. Off here, as kvstore
#                   does nothing like it; "10m0s" measures it (an
#                   invariant_check_every in APP_TOML or APP_TOML_BEFORE
#                   wins for its network, as snapshot_interval does)   ["0s"]
#   BASE_PORT       first port of the Tally network; kvstore uses +1000 [27000]
#   OUT             where networks, logs and JSON go [a new temp dir]
#   KEEP            1 keeps OUT after exit          [1 if OUT was given, else 0]
#   TALLYD          a prebuilt tallyd to use        [built from this checkout]
#   LOAD_FLAGS_BEFORE  extra tallyd load flags for TALLYD_BEFORE's network only,
#                   e.g. --route-units for a release before TxBody.max_units
#                   (it refuses the field)                        [none]
#   LOAD_FLAGS      extra tallyd load flags for the (after) network, e.g.
#                   LOAD_FLAGS="--cpuprofile /tmp/load.pprof" (with one rate
#                   in RATES: each rate's load overwrites the file)   [none]
#   INIT_FLAGS_BEFORE, START_FLAGS_BEFORE  extra `tallyd testnet init` /
#                   `testnet start` flags for TALLYD_BEFORE's network only
#                   (after the script's own, so they win), e.g.
#                   INIT_FLAGS_BEFORE=--council START_FLAGS_BEFORE="--demo
#                   --explorer" loads the old five-node shape as "before"
#                   [none]
#   APP_TOML, APP_TOML_BEFORE  space-separated key=value settings written
#                   into every node's app.toml (top-level keys) after `testnet
#                   init`, for the "after" / TALLYD_BEFORE network, e.g.
#                   APP_TOML_BEFORE="iavl_cache_size=100000" to A/B a setting
#                   with one build   [none]
#   GENESIS_PARAMS, GENESIS_PARAMS_BEFORE  space-separated key=value chain
#                   parameters (app_state.params, as the genesis spells them)
#                   written into every node's genesis after `testnet init`,
#                   e.g. GENESIS_PARAMS="maxBlockUnits=60000000"   [none]
#   TALLYD_BEFORE   another tallyd (e.g. built before a change): its own fresh
#                   network is loaded first, in the same invocation, and its
#                   table printed too, so before and after share the run []
#   TOOLS           where cometbft, load and report are installed
#                   [$HOME/.cache/tally-bench/cometbft-v0.40.0]
#   NETNS_PREFIX    a command run before every node (e.g. "ip netns exec n0"
#                   is what the WAN variant uses; see bench-wan.sh)  []
#   PPROF           1 saves a CPU profile of every Tally node (its pprof
#                   port, testnet.json) for each rate, PPROF_SECONDS long
#                   from the start of the load, into
#                   OUT/LABEL-RATE-NODE.cpu.pprof (`go tool pprof -top -cum
#                   FILE...` merges them)  [0]
#   PPROF_SECONDS   the profile's length  [DURATION]
# Every Tally rate also records the CPU seconds the node processes (every
# node of testnet.json, the council's full node included) and the load
# generator (tallyd load, on the same machine) used while it ran, drain
# included, in OUT/LABEL-RATE.cpu and as cores in the table's
# node_cpu/load_cpu columns (load_cpu: the tallyd load process alone, its
# setup, load and drain, read around its wait; run_bg); and each node's
# resident memory every RSS_EVERY seconds [5] in OUT/LABEL-RATE.rss (time,
# pid, then KiB resident: all, anonymous (the Go heap and stacks),
# file-backed (mapped files, e.g. memiavl's snapshot)), the largest in the
# max_rss_mib column. Every kvstore rate records the same two (its four
# cometbft processes; loadtime's load process) in OUT/kv-RATE.cpu and the
# kvstore table's node_cpu/load_cpu columns, over loadtime's run (it has no
# drain): what the two loads cost the machine the nodes share, side by side.
#
# Example: RATES="500 1000 2000" DURATION=15s scripts/bench-localnet.sh
set -euo pipefail

COMET_VERSION=v0.40.0
RATES=${RATES:-"500 1000 2000 4000"}
DURATION=${DURATION:-15s}
SECS=${DURATION%s}
[[ "$SECS" =~ ^[0-9]+$ ]] || { echo "bench-localnet: DURATION must be whole seconds (15 or 15s)" >&2; exit 1; }
VALIDATORS=${VALIDATORS:-4}
ACCOUNTS=${ACCOUNTS:-50}
WORKERS=${WORKERS:-0}
MIX=${MIX:-all}
TRANSPORT=${TRANSPORT-ws}
KV_TX_SIZE=${KV_TX_SIZE:-220}
KVSTORE=${KVSTORE:-1}
TALLY=${TALLY:-1}
DRAIN=${DRAIN:-30s}
TIMEOUT_COMMIT=${TIMEOUT_COMMIT:-}
SKIP_TIMEOUT_COMMIT=${SKIP_TIMEOUT_COMMIT:-0}
FRESH=${FRESH:-0}
SNAPSHOT_INTERVAL=${SNAPSHOT_INTERVAL-1000}
SNAPSHOTS=""
INVARIANT_CHECK_EVERY=${INVARIANT_CHECK_EVERY-0s}
BASE_PORT=${BASE_PORT:-27000}
PPROF=${PPROF:-0}
PPROF_SECONDS=${PPROF_SECONDS:-$SECS}
RSS_EVERY=${RSS_EVERY:-5}
KV_BASE_PORT=$((BASE_PORT + 1000))
TOOLS=${TOOLS:-$HOME/.cache/tally-bench/cometbft-$COMET_VERSION}
WARMUP_S=2
if [[ -n "${OUT:-}" ]]; then KEEP=${KEEP:-1}; else OUT=$(mktemp -d -t tally-bench.XXXXXX); KEEP=${KEEP:-0}; fi

command -v jq >/dev/null || { echo "bench-localnet: jq is needed to read the reports" >&2; exit 1; }
cd "$(dirname "$0")/.."
mkdir -p "$OUT"
NET="$OUT/localnet"
KVNET="$OUT/kvnet"
if [[ -e "$NET" || -e "$KVNET" || -e "$OUT/kv-latencies.csv" ]]; then echo "bench-localnet: $OUT already holds a network; use a new OUT" >&2; exit 1; fi

NET_PID=""
LOAD_PID=""
KV_PIDS=()
# The machine's load average, sampled for the tables' load1 column.
while :; do echo "$(date +%s) $(cut -d' ' -f1 /proc/loadavg)"; sleep 2; done >"$OUT/loadavg.log" 2>/dev/null &
LOADAVG_PID=$!
# mark LABEL RATE start|end: when a rate's load ran, for load_range.
mark() { echo "$1 $2 $3 $(date +%s)" >>"$OUT/windows.log"; }
# proc_cpu PID...: the CPU seconds (user + system) the processes used so far.
proc_cpu() {
	local pid
	for pid in "$@"; do cat "/proc/$pid/stat" 2>/dev/null || true; done |
		# Fields 14 and 15 of /proc/PID/stat: fields 12 and 13 after the name.
		sed 's/.*) //' | awk -v hz="$(getconf CLK_TCK)" '{ t += $12 + $13 } END { printf "%.2f", t / hz }'
}
# load_range LABEL RATE: min-max of the load average while it ran.
load_range() {
	awk -v l="$1" -v r="$2" 'FNR == NR { if ($1 == l && $2 == r) { if ($3 == "start") s = $4; else e = $4 } next }
		s != "" && $1 >= s && (e == "" || $1 <= e) { if (min == "" || $2 < min) min = $2; if ($2 > max) max = $2 }
		END { if (min == "") print "-"; else printf "%s-%s\n", min, max }' "$OUT/windows.log" "$OUT/loadavg.log"
}
stop_tally() {
	local kids=""
	if [[ -n "$NET_PID" ]] && kill -0 "$NET_PID" 2>/dev/null; then
		kids=$(pgrep -P "$NET_PID" || true) # the node processes
		echo "stopping the Tally network (pid $NET_PID)..." >&2
		kill -TERM "$NET_PID" 2>/dev/null || true
		for _ in $(seq 1 40); do kill -0 "$NET_PID" 2>/dev/null || break; sleep 0.5; done
		kill -KILL "$NET_PID" 2>/dev/null || true
		wait "$NET_PID" 2>/dev/null || true
		for pid in $kids; do kill -KILL "$pid" 2>/dev/null || true; done
	fi
	NET_PID=""
}
stop_kv() {
	local pid
	for pid in "${KV_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${KV_PIDS[@]}"; do
		for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	KV_PIDS=()
}
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ -n "$LOAD_PID" ]]; then
		kill -TERM "$LOAD_PID" 2>/dev/null || true
		wait "$LOAD_PID" 2>/dev/null || true
	fi
	stop_tally
	stop_kv
	kill "$LOADAVG_PID" 2>/dev/null || true
	if [[ "$KEEP" == 1 ]]; then echo "kept $OUT" >&2; else rm -rf "$OUT"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run_bg LOG CMD...: runs a command in the background so a signal reaches
# the trap at once, and fails the script with its log if it fails. It sets
# RUN_CPU to the CPU seconds (user + system) the command used, with its own
# children's: the growth of this shell's reaped children's CPU (bash's
# `times`, second line) from just before the command starts to just after
# `wait` reaps it. Both are written first and read after (a $(...) in
# between would be a child reaped in the interval), and no other child of
# this shell ends in it: the samplers are stopped only afterwards, so
# their CPU is not the command's. (Until 2026-12-05 the load's figure was
# read after the memory sampler was stopped and included it, 0.1-0.3 s a
# rate.)
run_bg() {
	local log=$1
	shift
	times >"$OUT/.times0"
	"$@" &
	LOAD_PID=$!
	if ! wait "$LOAD_PID"; then
		LOAD_PID=""
		echo "failed: $*" >&2
		tail -30 "$log" >&2
		exit 1
	fi
	times >"$OUT/.times1"
	LOAD_PID=""
	RUN_CPU=$(awk 'FNR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } c[NR == FNR] = t }
		END { printf "%.2f", c[0] - c[1] }' "$OUT/.times0" "$OUT/.times1")
}

# toml_get FILE SECTION KEY / toml_set FILE SECTION KEY VALUE: a key of one
# [section] ("" for the top) of a TOML file, value as written (quotes kept).
toml_get() {
	awk -v sec="$2" -v key="$3" '
		/^\[/ { cur = $0; gsub(/[][ ]/, "", cur); next }
		cur == sec && $0 ~ "^" key " *=" { sub("^" key " *= *", ""); print; exit }' "$1"
}
toml_set() {
	awk -v sec="$2" -v key="$3" -v val="$4" '
		/^\[/ { cur = $0; gsub(/[][ ]/, "", cur) }
		cur == sec && $0 ~ "^" key " *=" { print key " = " val; next }
		{ print }' "$1" >"$1.tmp" && mv "$1.tmp" "$1"
}

if [[ -z "${TALLYD:-}" ]]; then
	TALLYD="$OUT/tallyd"
	echo "building tallyd..." >&2
	go build -o "$TALLYD" ./cmd/tallyd
fi
if [[ "$KVSTORE" == 1 ]]; then
	if [[ ! -x "$TOOLS/cometbft" || ! -x "$TOOLS/load" || ! -x "$TOOLS/report" ]]; then
		echo "installing CometBFT $COMET_VERSION's cometbft and loadtime (load, report) into $TOOLS..." >&2
		mkdir -p "$TOOLS"
		(cd "$TOOLS" && GOBIN="$TOOLS" GOFLAGS=-mod=mod go install \
			"github.com/cometbft/cometbft/cmd/cometbft@$COMET_VERSION" \
			"github.com/cometbft/cometbft/test/loadtime/cmd/load@$COMET_VERSION" \
			"github.com/cometbft/cometbft/test/loadtime/cmd/report@$COMET_VERSION")
	fi
	# (v0.40.0's `cometbft version` says 0.39.0: its version.go was not bumped;
	# the module version the binary was built from is what counts.)
	for t in cometbft load report; do
		go version -m "$TOOLS/$t" | grep -q "mod[[:space:]]*github.com/cometbft/cometbft[[:space:]]*$COMET_VERSION" ||
			{ echo "bench-localnet: $TOOLS/$t was not built from cometbft $COMET_VERSION" >&2; exit 1; }
	done
fi

# The Tally network is written first even when only kvstore runs: its
# config.toml and genesis are the settings both networks run with.
init_flags=(--validators "$VALIDATORS" --output "$NET" --base-port "$BASE_PORT")
[[ -n "$TIMEOUT_COMMIT" ]] && init_flags+=(--timeout-commit "$TIMEOUT_COMMIT")
[[ "$SKIP_TIMEOUT_COMMIT" == 1 ]] && init_flags+=(--skip-timeout-commit)
[[ -n "$SNAPSHOT_INTERVAL" ]] && init_flags+=(--snapshot-interval "$SNAPSHOT_INTERVAL")
"$TALLYD" testnet init "${init_flags[@]}" --council=false >"$OUT/init.log"
CFG="$(jq -r '.nodes[0].home' "$NET/testnet.json")/config"

# Waits until no node of a network has transactions left in its mempool, so
# one rate's backlog does not count towards the next.
wait_mempools_empty() {
	local rpc n total
	for _ in $(seq 1 120); do
		total=0
		for rpc in ${1//,/ }; do
			n=$(curl -fsS "${rpc/tcp:/http:}/num_unconfirmed_txs" 2>/dev/null | jq -r '.result.n_txs // "0"') || n=0
			total=$((total + n))
		done
		[[ "$total" == 0 ]] && return 0
		sleep 0.5
	done
	echo "warning: mempools still hold $total txs" >&2
}

# ---- kvstore with loadtime ----

# kv_log_level CONFIG: CONFIG's log_level with a module given for a bare
# level ("info" is "*:info"), to follow a module's own level.
kv_log_level() {
	local lvl
	lvl=$(sed -n 's/^log_level *= *"\(.*\)"/\1/p' "$1")
	lvl=${lvl:-info}
	[[ "$lvl" == *:* ]] || lvl="*:$lvl"
	echo "$lvl"
}
# kv_up DIR: a fresh kvstore network written into DIR and started; sets
# KVNET and KV_ENDPOINTS, KV_WS (the nodes' RPC and websocket addresses).
kv_up() {
	local i j peers="" endpoints="" ws="" cfg rpc
	KVNET=$1
	"$TOOLS/cometbft" testnet --v "$VALIDATORS" --o "$KVNET" --populate-persistent-peers=false >"$OUT/kv-init.log"
	for ((i = 0; i < VALIDATORS; i++)); do
		peers+="${peers:+,}$("$TOOLS/cometbft" show-node-id --home "$KVNET/node$i")@127.0.0.1:$((KV_BASE_PORT + 10 * i))"
	done
	for ((i = 0; i < VALIDATORS; i++)); do
		cfg="$KVNET/node$i/config/config.toml"
		cp "$CFG/config.toml" "$cfg"
		toml_set "$cfg" "" proxy_app '"kvstore"'
		toml_set "$cfg" "" moniker "\"kv$i\""
		# Tally's nodes log CometBFT's line for each websocket request
		# ("WSJSONRPC") at debug, as CometBFT logs HTTP requests
		# (node/rpc.go); a kvstore node would write it at info for every
		# transaction loadtime sends. Its rpc-server module logs at warn,
		# so neither side writes a log line a transaction.
		toml_set "$cfg" "" log_level "\"rpc-server:warn,$(kv_log_level "$CFG/config.toml")\""
		toml_set "$cfg" "" filter_peers false
		toml_set "$cfg" "" priv_validator_laddr '""'
		toml_set "$cfg" rpc laddr "\"tcp://127.0.0.1:$((KV_BASE_PORT + 10 * i + 1))\""
		toml_set "$cfg" rpc pprof_laddr '""'
		toml_set "$cfg" p2p laddr "\"tcp://127.0.0.1:$((KV_BASE_PORT + 10 * i))\""
		toml_set "$cfg" p2p external_address "\"127.0.0.1:$((KV_BASE_PORT + 10 * i))\""
		local mine=""
		for ((j = 0; j < VALIDATORS; j++)); do
			[[ $j == "$i" ]] && continue
			mine+="${mine:+,}$(echo "$peers" | cut -d, -f$((j + 1)))"
		done
		toml_set "$cfg" p2p persistent_peers "\"$mine\""
		toml_set "$cfg" instrumentation prometheus false
		# Tally's block limits (max_bytes, max_gas) in kvstore's genesis.
		jq --slurpfile t "$CFG/genesis.json" '.consensus_params.block = $t[0].consensus_params.block' \
			"$KVNET/node$i/config/genesis.json" >"$KVNET/g.tmp" && mv "$KVNET/g.tmp" "$KVNET/node$i/config/genesis.json"
		rpc="tcp://127.0.0.1:$((KV_BASE_PORT + 10 * i + 1))"
		endpoints+="${endpoints:+,}$rpc"
		ws+="${ws:+,}ws://127.0.0.1:$((KV_BASE_PORT + 10 * i + 1))/websocket"
	done
	for ((i = 0; i < VALIDATORS; i++)); do
		${NETNS_PREFIX:-} "$TOOLS/cometbft" node --home "$KVNET/node$i" >"$KVNET/node$i.log" 2>&1 &
		KV_PIDS+=($!)
	done
	echo "starting $VALIDATORS kvstore validators (logs $KVNET/node*.log)..." >&2
	for _ in $(seq 1 120); do
		h=$(curl -fsS "http://127.0.0.1:$((KV_BASE_PORT + 1))/status" 2>/dev/null | jq -r '.result.sync_info.latest_block_height' || echo 0)
		[[ "${h:-0}" -ge 2 ]] && break
		sleep 0.5
	done
	[[ "${h:-0}" -ge 2 ]] || { echo "the kvstore network did not start:" >&2; tail -20 "$KVNET/node0.log" >&2; exit 1; }
	KV_ENDPOINTS=$endpoints
	KV_WS=$ws
}

# kv_rate RATE: loadtime at RATE on the running kvstore network.
kv_rate() {
	local rate=$1
	wait_mempools_empty "$KV_ENDPOINTS"
	echo "kvstore: rate $rate tx/s for ${SECS}s..." >&2
	mark kv "$rate" start
	local t0 n0
	t0=$(date +%s.%N); n0=$(proc_cpu "${KV_PIDS[@]}")
	run_bg "$OUT/kv-load-$rate.log" "$TOOLS/load" -c 1 -T "$SECS" -r $(((rate + VALIDATORS - 1) / VALIDATORS)) -s "$KV_TX_SIZE" \
		--broadcast-tx-method sync --endpoints "$KV_WS" >"$OUT/kv-load-$rate.log" 2>&1
	mark kv "$rate" end
	# As for Tally: the nodes' and the load's CPU while the load ran.
	awk -v t0="$t0" -v t1="$(date +%s.%N)" -v n0="$n0" -v n1="$(proc_cpu "${KV_PIDS[@]}")" -v l="$RUN_CPU" \
		'BEGIN { w = t1 - t0; printf "window_s %.1f node_cpu_s %.1f load_cpu_s %.1f node_cores %.2f load_cores %.2f\n", w, n1 - n0, l, (n1 - n0) / w, l / w }' \
		>"$OUT/kv-$rate.cpu"
}

# kv_down: waits for the running kvstore network's mempools to empty, stops
# it and appends loadtime's per-transaction report of its blocks to
# OUT/kv-latencies.csv (one header; kv_row picks a rate's rows by the
# rate each node was sent, which every row records).
kv_down() {
	wait_mempools_empty "$KV_ENDPOINTS"
	sleep 2
	stop_kv # loadtime's report reads node0's block store, which the node locks
	"$TOOLS/report" --database-type goleveldb --data-dir "$KVNET/node0/data" --csv "$KVNET.csv" >>"$OUT/kv-report.log" 2>&1
	if [[ -s "$OUT/kv-latencies.csv" ]]; then tail -n +2 "$KVNET.csv" >>"$OUT/kv-latencies.csv"; else cp "$KVNET.csv" "$OUT/kv-latencies.csv"; fi
}

# kv_phase: every rate on one kvstore network, or with FRESH=1 each rate on
# a fresh network of its own (OUT/kvnet-RATE).
kv_phase() {
	local rate
	if [[ "$FRESH" == 1 ]]; then
		for rate in $RATES; do
			kv_up "$OUT/kvnet-$rate"
			kv_rate "$rate"
			kv_down
		done
		return
	fi
	kv_up "$OUT/kvnet"
	for rate in $RATES; do kv_rate "$rate"; done
	kv_down
}

# kv_row RATE: one kvstore table row from loadtime's per-transaction CSV
# (experiment_id, block_time ns, duration_ns, tx_hash, connections, rate, size):
# offered, committed tx/s, p50, p95, p99 (ms), txs, tx/block.
kv_row() {
	local per=$((($1 + VALIDATORS - 1) / VALIDATORS)) n rate blocks
	awk -F, -v per="$per" 'NR > 1 && $6 == per { print $2, $3 }' "$OUT/kv-latencies.csv" >"$OUT/kv-$1.txt"
	n=$(wc -l <"$OUT/kv-$1.txt")
	if [[ "$n" == 0 ]]; then echo "$1 0 - - - 0 -"; return; fi
	# Blocks (by block time) in the steady window [first block + warm-up,
	# first block + duration]: txs of every block after the first, over the
	# time between the first and the last.
	rate=$(cut -d' ' -f1 "$OUT/kv-$1.txt" | sort -n | uniq -c | awk -v secs="$SECS" -v warm="$WARMUP_S" '
		NR == 1 { first = $2 / 1e9 }
		{ t = $2 / 1e9; if (t < first + warm || t > first + secs) next
		  if (w0 == "") { w0 = t; next } w1 = t; txs += $1 }
		END { printf "%.1f", (w1 > w0 ? txs / (w1 - w0) : 0) }')
	blocks=$(cut -d' ' -f1 "$OUT/kv-$1.txt" | sort -u | wc -l)
	cut -d' ' -f2 "$OUT/kv-$1.txt" | sort -n | awk -v n="$n" -v off="$1" -v rate="$rate" -v blocks="$blocks" '
		function rank(p) { r = int(p * n + 0.999999); return (r < 1 ? 1 : r) }
		{ v[NR] = $1 / 1e6 }
		END { printf "%s %s %.0f %.0f %.0f %d %.1f\n", off, rate, v[rank(0.50)], v[rank(0.95)], v[rank(0.99)], n, n / blocks }'
}

# ---- Tally with tallyd load ----
# tally_phase LABEL BIN: a fresh network written and run by BIN, loaded at each
# rate by $TALLYD's load (one client for every build)
# into $OUT/LABEL-<rate>.json.
# With FRESH=1 each rate gets a fresh network of its own (OUT/LABEL-net-RATE).
tally_phase() {
	local label=$1 bin=$2 rate
	if [[ "$FRESH" == 1 ]]; then
		for rate in $RATES; do
			tally_up "$label" "$bin" "$OUT/$label-net-$rate"
			tally_rate "$label" "$rate" "$OUT/$label-net-$rate"
			stop_tally
		done
		return
	fi
	tally_up "$label" "$bin" "$OUT/$label-net"
	for rate in $RATES; do tally_rate "$label" "$rate" "$OUT/$label-net"; done
	stop_tally
}

# tally_up LABEL BIN NET: a fresh network written by BIN into NET with
# LABEL's settings, started and committing blocks.
tally_up() {
	local label=$1 bin=$2 net=$3
	local init_extra=() start_extra=()
	if [[ "$label" == before ]]; then
		[[ -n "${INIT_FLAGS_BEFORE:-}" ]] && read -r -a init_extra <<<"$INIT_FLAGS_BEFORE"
		[[ -n "${START_FLAGS_BEFORE:-}" ]] && read -r -a start_extra <<<"$START_FLAGS_BEFORE"
	fi
	# Logs OUT/LABEL-init.log and OUT/LABEL-testnet.log (…-RATE.log with FRESH=1).
	local suffix=${net#"$OUT/$label-net"}
	local log="$OUT/$label-testnet$suffix.log"
	"$bin" testnet init "${init_flags[@]/#$NET/$net}" --council=false "${init_extra[@]}" >"$OUT/$label-init$suffix.log"
	# Before APP_TOML / APP_TOML_BEFORE, so a network's own setting wins,
	# as it does over SNAPSHOT_INTERVAL (an init flag).
	if [[ -n "$INVARIANT_CHECK_EVERY" ]]; then
		local h
		for h in $(jq -r '.nodes[].home' "$net/testnet.json"); do
			toml_set "$h/config/app.toml" "" invariant_check_every "\"$INVARIANT_CHECK_EVERY\""
		done
	fi
	local settings=${APP_TOML:-}
	[[ "$label" == before ]] && settings=${APP_TOML_BEFORE:-}
	if [[ -n "$settings" ]]; then
		local home kv
		for home in $(jq -r '.nodes[].home' "$net/testnet.json"); do
			for kv in $settings; do
				grep -q "^${kv%%=*} *=" "$home/config/app.toml" || { echo "APP_TOML: $home/config/app.toml has no top-level ${kv%%=*}" >&2; exit 1; }
				toml_set "$home/config/app.toml" "" "${kv%%=*}" "${kv#*=}"
			done
		done
		echo "$label: app.toml set $settings" >&2
	fi
	local app0
	app0="$(jq -r '.nodes[0].home' "$net/testnet.json")/config/app.toml"
	[[ "$SNAPSHOTS" == *"$label: "* ]] || SNAPSHOTS+="${SNAPSHOTS:+, }$label: snapshot_interval $(toml_get "$app0" "" snapshot_interval), invariant_check_every $(toml_get "$app0" "" invariant_check_every)"
	local params=${GENESIS_PARAMS:-}
	[[ "$label" == before ]] && params=${GENESIS_PARAMS_BEFORE:-}
	if [[ -n "$params" ]]; then
		local home kv gen
		for home in $(jq -r '.nodes[].home' "$net/testnet.json"); do
			gen="$home/config/genesis.json"
			for kv in $params; do
				jq -e --arg k "${kv%%=*}" '.app_state.params | has($k)' "$gen" >/dev/null ||
					{ echo "GENESIS_PARAMS: $gen has no app_state.params.${kv%%=*}" >&2; exit 1; }
				jq --arg k "${kv%%=*}" --arg v "${kv#*=}" '.app_state.params[$k] = (if (.app_state.params[$k] | type) == "number" then ($v | tonumber) else $v end)' "$gen" >"$gen.new" && mv "$gen.new" "$gen"
			done
		done
		echo "$label: genesis params set $params" >&2
	fi
	"$bin" testnet start --demo=false --explorer=false "${start_extra[@]}" "$net" >"$log" 2>&1 &
	NET_PID=$!
	echo "starting $VALIDATORS Tally validators ($label: $bin; log $log)..." >&2
	for _ in $(seq 1 240); do
		grep -q "The network is committing blocks" "$log" && break
		kill -0 "$NET_PID" 2>/dev/null || { echo "the network did not start:" >&2; cat "$log" >&2; exit 1; }
		sleep 0.5
	done
	grep -q "The network is committing blocks" "$log" || { echo "the network did not start in 120s" >&2; exit 1; }
}

# tally_rate LABEL RATE NET: $TALLYD's load at RATE on the running network
# NET, into $OUT/LABEL-RATE.json.
tally_rate() {
	local label=$1 rate=$2 net=$3 extra=()
	if [[ "$label" == before ]]; then
		[[ -n "${LOAD_FLAGS_BEFORE:-}" ]] && read -r -a extra <<<"$LOAD_FLAGS_BEFORE"
	else
		[[ -n "${LOAD_FLAGS:-}" ]] && read -r -a extra <<<"$LOAD_FLAGS"
	fi
	ENDPOINTS=$(jq -r '[.nodes[].rpc] | join(",")' "$net/testnet.json")
	KEYRING=$(jq -r '.keyring_dir' "$net/testnet.json")
	ADMIN="$(jq -r '.nodes[0].agency' "$net/testnet.json")-admin"
	{
		wait_mempools_empty "$ENDPOINTS"
		echo "Tally ($label): rate $rate tx/s for ${SECS}s..." >&2
		mark "$label" "$rate" start
		local nodes t0 n0 prof_pid=""
		nodes=$(pgrep -P "$NET_PID" | tr '\n' ' ')
		t0=$(date +%s.%N); n0=$(proc_cpu $nodes)
		# Every node's resident memory every RSS_EVERY seconds while the rate runs.
		(while :; do
			for pid in $nodes; do echo "$(date +%s) $pid $(awk '/^VmRSS:/ { r = $2 } /^RssAnon:/ { a = $2 } /^RssFile:/ { f = $2 } END { print r + 0, a + 0, f + 0 }' "/proc/$pid/status" 2>/dev/null || echo 0 0 0)"; done
			sleep "$RSS_EVERY"
		done) >"$OUT/$label-$rate.rss" 2>/dev/null &
		local rss_pid=$!
		if [[ "$PPROF" == 1 ]]; then
			# One profile per node, at once; pprof merges them when given all.
			jq -r '.nodes[] | "\(.name) \(.pprof)"' "$net/testnet.json" | while read -r name addr; do
				curl -fsS -o "$OUT/$label-$rate-$name.cpu.pprof" "http://$addr/debug/pprof/profile?seconds=$PPROF_SECONDS" &
			done
			prof_pid=1
		fi
		run_bg "$OUT/$label-$rate.log" "$TALLYD" load --keyring-backend test --keyring-dir "$KEYRING" --from "$ADMIN" \
			--endpoints "$ENDPOINTS" --rate "$rate" --duration "${SECS}s" --accounts "$ACCOUNTS" \
			--workers "$WORKERS" --mix="$MIX" --drain "$DRAIN" --json ${TRANSPORT:+--transport "$TRANSPORT"} "${extra[@]}" \
			>"$OUT/$label-$rate.json" 2>"$OUT/$label-$rate.log"
		mark "$label" "$rate" end
		kill "$rss_pid" 2>/dev/null || true
		wait "$rss_pid" 2>/dev/null || true
		# tallyd load's run includes its drain: the window is the whole run.
		# load_cpu_s is tallyd load's process alone (RUN_CPU, run_bg).
		awk -v t0="$t0" -v t1="$(date +%s.%N)" -v n0="$n0" -v n1="$(proc_cpu $nodes)" -v l="$RUN_CPU" -v k="$(echo $nodes | wc -w)" \
			-v rss="$(awk '$3 > m { m = $3 } END { printf "%.0f", m / 1024 }' "$OUT/$label-$rate.rss")" \
			'BEGIN { w = t1 - t0; printf "window_s %.1f nodes %d node_cpu_s %.1f load_cpu_s %.1f node_cores %.2f load_cores %.2f max_rss_mib %s\n", w, k, n1 - n0, l, (n1 - n0) / w, l / w, rss }' \
			>"$OUT/$label-$rate.cpu"
		if [[ -n "$prof_pid" ]]; then
			sleep 2 # the profiles end PPROF_SECONDS after the load started
			ls "$OUT/$label-$rate-"*.cpu.pprof >/dev/null 2>&1 || echo "warning: no CPU profile for $label at $rate tx/s" >&2
		fi
	}
}

# tally_table LABEL: the table, findings and peak lines of one Tally phase.
tally_table() {
	local label=$1 rate c first="$OUT/$1-${RATES%% *}.json"
	echo
	echo "Tally ($label: $(jq -r '.mix' "$first")), $ACCOUNTS accounts per party, $(jq -r '.avg_tx_bytes|round' "$first")-byte txs on average, broadcasts over $(jq -r '"\(.transport // "http") (\(.connections) connections a node)"' "$first")"
	{
		echo "offered sent_tx/s not_sent committed_tx/s ratio_to_kvstore p50_ms p95_ms p99_ms blocks tx/block units/tx accepted refused errors failed_in_block pending refusal_p50_ms refusal_p99_ms node_cpu load_cpu max_rss_mib load1"
		for rate in $RATES; do
			jq -r --arg kv "${KV[$rate]:-}" --arg load "$(load_range "$label" "$rate")" \
				--arg ncpu "$(awk '{ print $10 }' "$OUT/$label-$rate.cpu" 2>/dev/null || echo -)" --arg lcpu "$(awk '{ print $12 }' "$OUT/$label-$rate.cpu" 2>/dev/null || echo -)" \
				--arg rss "$(awk '{ print $14 }' "$OUT/$label-$rate.cpu" 2>/dev/null || echo -)" '[.offered_rate, (.submit_rate|round), .client_dropped, (.committed_rate*10|round/10),
				(if ($kv|length) > 0 and ($kv|tonumber) > 0 then (.committed_rate / ($kv|tonumber) * 100 | round / 100) else "-" end),
				(.latency.p50_ms|round), (.latency.p95_ms|round), (.latency.p99_ms|round), .blocks, (.avg_txs_per_block*10|round/10),
				((.avg_units // 0)|round), .accepted, .rejected_total, .broadcast_errors_total, .committed_failed_total, .pending,
				((.refusal_latency.p50_ms // 0)|round), ((.refusal_latency.p99_ms // 0)|round), $ncpu, $lcpu, $rss, $load] | map(tostring) | join(" ")' "$OUT/$label-$rate.json"
		done
	} | column -t
	for rate in $RATES; do
		jq -r --arg r "$rate" '(.rejected[] | "  at \($r) tx/s refused \(.count) × \(.codespace)/\(.code): \(.example_log)"),
			(.broadcast_errors[] | "  at \($r) tx/s broadcast error \(.count) × \(.error)"),
			(.committed_failed[] | "  at \($r) tx/s FAILED IN BLOCK \(.count) × \(.codespace)/\(.code): \(.example_log)"),
			(if .steady_window.whole_run then "  at \($r) tx/s fewer than two blocks fell inside the load: its commit rate spans the whole run (raise DURATION)" else empty end),
			(if .client_dropped > 0 then "  at \($r) tx/s \(.client_dropped) not sent: \(.workers) broadcasts were already waiting for answers (the nodes answered too slowly; WORKERS)" else empty end)' \
			"$OUT/$label-$rate.json"
	done
	# Peak to peak, and no collapse: the highest rate's committed rate against the peak.
	tpeak=0; tpeak_at=0
	for rate in $RATES; do
		c=$(jq -r '.committed_rate' "$OUT/$label-$rate.json")
		if awk -v a="$c" -v b="$tpeak" 'BEGIN { exit !(a > b) }'; then tpeak=$c; tpeak_at=$rate; fi
		last=$c; last_at=$rate
	done
	printf "Tally ($label) peak %.0f tx/s (offered %s); at the highest offered rate (%s) %.0f tx/s = %.0f%% of the peak\n" \
		"$tpeak" "$tpeak_at" "$last_at" "$last" "$(awk -v a="$last" -v b="$tpeak" 'BEGIN { print (b > 0 ? 100 * a / b : 0) }')"
	if [[ "$KVSTORE" == 1 ]]; then
		printf "Tally ($label) peak / kvstore peak = %.2f\n" "$(awk -v a="$tpeak" -v b="$KVPEAK" 'BEGIN { print (b > 0 ? a / b : 0) }')"
	fi
}

[[ "$KVSTORE" == 1 ]] && kv_phase
if [[ "$TALLY" == 1 ]]; then
	[[ -n "${TALLYD_BEFORE:-}" ]] && tally_phase before "$TALLYD_BEFORE"
	tally_phase tally "$TALLYD"
fi

toml() { toml_get "$CFG/config.toml" "$1" "$2" | tr -d '"'; }
echo
echo "$VALIDATORS validators on one machine, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; ${SECS}s per rate, $([[ "$FRESH" == 1 ]] && echo "each on a fresh network (FRESH=1)" || echo "in order on one network a side")"
echo "consensus: timeout_propose $(toml consensus timeout_propose), timeout_prevote $(toml consensus timeout_prevote)," \
	"timeout_precommit $(toml consensus timeout_precommit), timeout_commit $(toml consensus timeout_commit), skip_timeout_commit $(toml consensus skip_timeout_commit)"
echo "block: max_bytes $(jq -r '.consensus_params.block.max_bytes' "$CFG/genesis.json"), max_gas $(jq -r '.consensus_params.block.max_gas' "$CFG/genesis.json");" \
	"mempool: size $(toml mempool size), cache_size $(toml mempool cache_size), recheck $(toml mempool recheck) (both networks)"
[[ -n "$SNAPSHOTS" ]] && echo "Tally whole-state walks (app.toml; 0: none; kvstore has neither): $SNAPSHOTS"
declare -A KV
if [[ "$KVSTORE" == 1 ]]; then
	echo
	echo "CometBFT $COMET_VERSION kvstore, loadtime -c 1 -r RATE/$VALIDATORS to each node, ${KV_TX_SIZE}-byte txs"
	rows="offered committed_tx/s p50_ms p95_ms p99_ms txs tx/block node_cpu load_cpu load1"
	for rate in $RATES; do
		row=$(kv_row "$rate")
		KV[$rate]=$(echo "$row" | cut -d' ' -f2)
		rows+=$'\n'"$row $(awk '{ print $8, $10 }' "$OUT/kv-$rate.cpu" 2>/dev/null || echo - -) $(load_range kv "$rate")"
	done
	echo "$rows" | column -t
fi
KVPEAK=0
if [[ "$KVSTORE" == 1 ]]; then
	for rate in $RATES; do awk -v a="${KV[$rate]}" -v b="$KVPEAK" 'BEGIN { exit !(a > b) }' && KVPEAK=${KV[$rate]}; done
	printf "kvstore peak %.0f tx/s\n" "$KVPEAK"
fi
if [[ "$TALLY" == 1 ]]; then
	[[ -n "${TALLYD_BEFORE:-}" ]] && tally_table before
	tally_table tally
fi
echo "files: $OUT (tally-<rate>.json, before-<rate>.json, kv-latencies.csv)$([[ "$KEEP" == 1 ]] || echo ' (removed on exit; set KEEP=1 to keep)')"
