#!/bin/sh
# Makes the X-Payload-Digest vectors of this folder with Python's hmac
# module (not idvflow's code); openssl gives the same digests:
#   openssl dgst -sha256 -hmac "$SECRET" -hex < applicant-reviewed-red-retry.json
set -e
cd "$(dirname "$0")"
OLD=vectorOldSecret-sumsub-0123456789
NEW=vectorNewSecret-sumsub-9876543210
dig() { python3 -c 'import hmac,hashlib,sys; print(hmac.new(sys.argv[2].encode(), open(sys.argv[3],"rb").read(), getattr(hashlib, sys.argv[1])).hexdigest(), end="")' "$1" "$2" "$3"; }
dig sha256 "$OLD" applicant-reviewed-red-retry.json > applicant-reviewed-red-retry.sha256
dig sha512 "$OLD" applicant-reviewed-red-retry.json > applicant-reviewed-red-retry.sha512
dig sha1   "$OLD" applicant-reviewed-red-retry.json > applicant-reviewed-red-retry.sha1
dig sha256 "$NEW" applicant-reviewed-red-retry.json > applicant-reviewed-red-retry.new.sha256
# Sumsub's published example (docs and two Go libraries): someText under SoMe_SeCrEt_KeY
printf someText > published.txt
dig sha1 SoMe_SeCrEt_KeY published.txt > published.sha1
