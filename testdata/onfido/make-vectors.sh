#!/bin/sh
# Makes the X-SHA2-Signature vectors of this folder with Python's hmac
# module (not idvflow's code); openssl gives the same:
#   openssl dgst -sha256 -hmac "$TOKEN" -hex < run-declined.json
set -e
cd "$(dirname "$0")"
sig() { python3 -c 'import hmac,hashlib,sys; print(hmac.new(sys.argv[1].encode(), open(sys.argv[2],"rb").read(), hashlib.sha256).hexdigest(), end="")' "$1" "$2"; }
# onfido-node's published vector: its token and body
sig _ABC123abc123ABC123abc123ABC123_ published-check-completed.json > published-check-completed.sig
sig vectorOldToken-onfido-0123456789 run-declined.json > run-declined.sig
sig vectorNewToken-onfido-9876543210 run-declined.json > run-declined.new.sig
