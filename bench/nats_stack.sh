# Sourced by the NATS benchmarks: where a llorch process listens, and a nats-server to share.

bound() {  # bound LOG: the address of the first server_bind in LOG
  for _ in $(seq 100); do
    grep -o '"address":"[^"]*"' "$1" 2>/dev/null | head -1 | cut -d'"' -f4 && return
    sleep 0.1
  done
}

start_nats() {  # start_nats DIR: nats-server -js on 127.0.0.1 (store in DIR, token
  # $LLORCH_NATS_TOKEN); sets nats (its URL) and nats_pid
  nats-server -js -a 127.0.0.1 -p -1 -sd "$1/nats" --auth "$LLORCH_NATS_TOKEN" 2>"$1/nats.log" &
  nats_pid=$!
  until grep -q "Listening for client connections" "$1/nats.log"; do sleep 0.05; done
  nats="nats://$(grep -o 'client connections on [0-9.:]*' "$1/nats.log" | awk '{print $4}')"
}
