#!/usr/bin/env bash
# Screenshots of the explorer's pages as a newcomer sees them after
# `make localnet`: a fresh 4-validator network with the demo data, the same
# pages at the same window sizes, so two builds can be compared side by side.
#
#   scripts/explorer-screenshots.sh TALLYD OUTDIR [BASE_PORT]
#
# TALLYD is the binary to run (an old build for "before", build/tallyd for
# "after"), OUTDIR where the PNGs go (e.g. build/screenshots/before). Needs
# chromium and curl. Stops only the network it started.
set -euo pipefail
bin=$(realpath "$1")
out=$(realpath -m "$2")
base=${3:-39000}
rpc=$((base + 1))
addr=127.0.0.1:$((base + 90))
chromium=$(command -v chromium || command -v chromium-browser || command -v google-chrome)
mkdir -p "$out"
work=$(mktemp -d /tmp/explorer-screenshots.XXXXXX)
"$bin" testnet init --validators 4 --output "$work/net" --base-port "$base" >"$work/init.log"
"$bin" testnet start "$work/net" --explorer-addr "$addr" --status-every 1h >"$work/start.log" 2>&1 &
net=$!
trap 'kill -INT $net 2>/dev/null; wait $net 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 300); do
	grep -q "Press Ctrl-C" "$work/start.log" && break
	kill -0 $net 2>/dev/null || { cat "$work/start.log"; exit 1; }
	sleep 1
done
grep -q "Press Ctrl-C" "$work/start.log" || { echo "network did not finish starting"; tail -30 "$work/start.log"; exit 1; }

# The transaction that issued receipt REVENUE-000004, from the node's index.
receipt_tx=$(curl -s "http://127.0.0.1:$rpc/tx_search?query=%22tax.receipt_issued.receipt%3D%27REVENUE-000004%27%22&per_page=1" |
	grep -o '"hash": *"[0-9A-F]*"' | head -1 | grep -o '[0-9A-F]\{64\}')

shot() { # name path width height
	"$chromium" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --disable-background-networking \
		--disable-component-update --disable-sync --no-first-run --user-data-dir="$work/chrome-$1" \
		--window-size="$3,$4" --hide-scrollbars --screenshot="$out/$1.png" "http://$addr$2" >/dev/null 2>&1
	echo "$out/$1.png  http://$addr$2"
}
shot network / 1280 2300
shot block /block/2 1280 900
shot transaction "/tx/$receipt_tx" 1280 900
shot money /money 1280 1200
shot item /item/lgtin:05012345678917.VALE-CHEDDAR-001 1280 1700
shot provenance /provenance 1280 1300
shot governance /governance 1280 1100
shot receipt /receipt/REVENUE-000001 1280 900
shot agency /agency/fsa 1280 1000
shot programme /search?q=student-bursary 1280 900
