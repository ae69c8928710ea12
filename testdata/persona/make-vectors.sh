#!/bin/sh
# Makes the Persona-Signature vectors of this folder with Python's hmac
# module (not idvflow's code); openssl gives the same digests:
#   printf '%s.' "$T" | cat - event-approved.json | openssl dgst -sha256 -hmac "$SECRET" -hex
set -e
cd "$(dirname "$0")"
OLD=wbhsec_vectorOldSecret0123456789abcdef
NEW=wbhsec_vectorNewSecret9876543210fedcba
T=1777885380        # 2026-05-04T09:03:00Z, the event's time
STALE=1777881780    # an hour before it
sig() { python3 -c 'import hmac,hashlib,sys; print(hmac.new(sys.argv[1].encode(), sys.argv[2].encode()+b"."+open(sys.argv[3],"rb").read(), hashlib.sha256).hexdigest())' "$1" "$2" "$3"; }
printf 't=%s,v1=%s' "$T" "$(sig "$OLD" "$T" event-approved.json)" > event-approved.sig
printf 't=%s,v1=%s t=%s,v1=%s' "$T" "$(sig "$NEW" "$T" event-approved.json)" "$T" "$(sig "$OLD" "$T" event-approved.json)" > event-approved.rotated.sig
printf 't=%s,v1=%s' "$STALE" "$(sig "$OLD" "$STALE" event-approved.json)" > event-approved.stale.sig
