#!/usr/bin/env bash
# curl client for the ax nonblocking-connect study: client.sh VARIANT HOST PORT
#   max-time         curl -sS --max-time 5
#   connect-timeout  curl -sS --connect-timeout 2
variant=$1 host=$2 port=$3
case $variant in
  max-time) opts=(--max-time 5) ;;
  connect-timeout) opts=(--connect-timeout 2) ;;
  *) echo "RESULT outcome=ERR elapsed=0s detail='unknown variant'"; exit 1 ;;
esac
echo START
s=$(date +%s%N)
out=$(curl -sS "${opts[@]}" -o /dev/null -w '%{http_code} connect=%{time_connect}s' "http://$host:$port/" 2>/tmp/curl.err.$$)
rc=$?
e=$(( ($(date +%s%N) - s) / 1000000 ))
el=$(printf '%d.%03d' $((e / 1000)) $((e % 1000)))
msg=$(tr '\n' ' ' </tmp/curl.err.$$); rm -f /tmp/curl.err.$$
if [ $rc = 0 ]; then echo "RESULT outcome=OK elapsed=${el}s detail='HTTP $out'"
else echo "RESULT outcome=ERR elapsed=${el}s detail='exit $rc: ${msg% }'"; fi
exit $rc
