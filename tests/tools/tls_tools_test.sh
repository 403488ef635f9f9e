#!/usr/bin/env bash
# The programs over TLS, as a user runs them: rappeld with a certificate made
# by openssl here (and client certificates required), then rappelctl,
# rappel-load, rappel-producer and rappel-worker with --ca/--cert/--key.
# Without TLS, or without a client certificate, they fail cleanly (rappelctl:
# exit 3) and rappeld goes on serving; TLS 1.1 is refused.
# Usage: tls_tools_test.sh BUILD_DIR
set -euo pipefail
build=$1
source "$(dirname "$0")/rappeld_fixture.sh"

pki="$work/pki"
mkdir -p "$pki"
(
  cd "$pki"
  key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
  key ca
  openssl req -x509 -new -key ca.key -out ca.pem -days 2 -subj /CN=rappel-test-ca 2>/dev/null
  for leaf in server client; do
    key $leaf
    openssl req -new -key $leaf.key -out $leaf.csr -subj /CN=$leaf 2>/dev/null
  done
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > server.ext
  printf 'extendedKeyUsage=clientAuth\n' > client.ext
  for leaf in server client; do
    openssl x509 -req -in $leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $leaf.pem \
      -days 2 -extfile $leaf.ext 2>/dev/null
  done
) || fail "openssl could not make the certificates"

start_rappeld --tls-cert-file "$pki/server.pem" --tls-key-file "$pki/server.key" \
  --tls-client-ca-file "$pki/ca.pem"
tls=(--ca "$pki/ca.pem" --cert "$pki/client.pem" --key "$pki/client.key")

ctl() { "$build/tools/rappelctl" --port "$port" "$@"; }
ctl "${tls[@]}" ping > "$work/ping.out" || fail "rappelctl ping over TLS: $(cat "$work/ping.out")"
ctl "${tls[@]}" --json status > "$work/status.json" || fail "rappelctl status over TLS"
grep -q '"pending"' "$work/status.json" || fail "status: $(cat "$work/status.json")"

set +e
ctl ping > "$work/plain.out" 2>&1; plain=$?
ctl --ca "$pki/ca.pem" ping > "$work/nocert.out" 2>&1; nocert=$?
set -e
[[ $plain -eq 3 ]] || fail "plaintext rappelctl: exit $plain: $(cat "$work/plain.out")"
[[ $nocert -eq 3 ]] || fail "rappelctl without a client certificate: exit $nocert: $(cat "$work/nocert.out")"
grep -q "TLS handshake with 127.0.0.1" "$work/rappeld.out" || fail "no handshake failure logged"

# TLS 1.2 and 1.3 are spoken, 1.1 is refused (SECLEVEL=0: this openssl
# would refuse 1.1 on its own side otherwise).
s_client() { echo | timeout 10 openssl s_client -connect "127.0.0.1:$port" -CAfile "$pki/ca.pem" \
  -cert "$pki/client.pem" -key "$pki/client.key" "$@" 2>&1 || true; }
s_client -tls1_3 | grep -q "New, TLSv1.3" || fail "no TLS 1.3: $(s_client -tls1_3)"
s_client -tls1_2 | grep -q "New, TLSv1.2" || fail "no TLS 1.2: $(s_client -tls1_2)"
s_client -tls1_1 -cipher 'DEFAULT@SECLEVEL=0' | grep -q "New, TLSv1.1" && fail "TLS 1.1 accepted"
grep -q "unsupported protocol" "$work/rappeld.out" || fail "TLS 1.1 refusal not logged"

load() { "$build/bench/rappel-load" --port "$port" --quiet --max-seconds 60 "${tls[@]}" "$@"; }
load ingest --count 3000 --batch 100 --json > "$work/ingest.json" || fail "ingest: $(cat "$work/ingest.json")"
grep -q '"ok": 3000' "$work/ingest.json" || fail "ingest over TLS: $(cat "$work/ingest.json")"
grep -q '"tls": true' "$work/ingest.json" || fail "the report does not say TLS"
load fire --count 2000 --batch 200 --lead-ms 1500 --json > "$work/fire.json" || fail "fire: $(cat "$work/fire.json")"
grep -q '"acked": 2000' "$work/fire.json" || fail "fire over TLS: $(cat "$work/fire.json")"

"$build/client/rappel-producer" --port "$port" "${tls[@]}" --count 3 --spacing-ms 10 \
  > "$work/producer.out" 2>&1 || fail "rappel-producer over TLS: $(cat "$work/producer.out")"
"$build/client/rappel-worker" --port "$port" "${tls[@]}" --exit-after 3 --max-seconds 30 \
  > "$work/worker.out" 2>&1 || fail "rappel-worker over TLS: $(cat "$work/worker.out")"
[[ $(grep -c '^worker:' "$work/worker.out") -ge 3 ]] || fail "worker: $(cat "$work/worker.out")"
echo "tls_tools_test: ok"
