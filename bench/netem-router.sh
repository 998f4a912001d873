#!/usr/bin/env bash
# A network path with a real kernel's `tc netem` in it, for
# `node bench/remote-latency.mjs --netem`. This machine's kernel has no netem,
# so a small QEMU virtual machine (software emulation, TCG) running Debian's
# stock kernel bridges two tap devices and delays every frame leaving each of
# its two ports by half the round-trip time:
#
#   netns cmlf-client            QEMU VM (initramfs only)             root netns
#   cmlf-tap0 10.77.0.1/24 ── eth0 ─ br0 ─ eth1 ── cmlf-tap1 10.77.0.2/24
#                            netem RTT/2 on eth0 and on eth1
#
# A program run with `ip netns exec cmlf-client` reaches a server listening on
# 10.77.0.2 in the root namespace only through the VM.
#
# Usage (as root; needs `apt-get install qemu-system-x86 linux-image-amd64 busybox-static iputils-ping`):
#   bench/netem-router.sh start RTT_MS   (re)start the router with that round-trip delay, wait until ping works
#   bench/netem-router.sh ping [COUNT]   ping 10.77.0.2 from cmlf-client (COUNT, default 5), print the summary line
#   bench/netem-router.sh stop           kill the VM, delete the taps and the namespace (safe to repeat)
# The initramfs is built on first use in /tmp/cmlf-netem/, with the VM's console log and pid file.
set -euo pipefail

STATE=${CMLF_NETEM_STATE:-/tmp/cmlf-netem}
NS=cmlf-client
TAP0=cmlf-tap0 # client side, moved into $NS
TAP1=cmlf-tap1 # server side, stays in the root namespace
CLIENT_IP=10.77.0.1
SERVER_IP=10.77.0.2
KVER=${CMLF_NETEM_KERNEL:-$(ls /lib/modules | sort -V | tail -n 1)}
KERNEL=/boot/vmlinuz-$KVER
INITRD=$STATE/initramfs-$KVER.cpio.gz
MODULES="virtio_pci virtio_net bridge sch_netem"

log() { echo "netem-router: $*" >&2; }

build_initramfs() {
  [ -s "$INITRD" ] && return
  local root=$STATE/rootfs lib=/lib/modules/$KVER m dep
  rm -rf "$root"
  mkdir -p "$root"/{bin,proc,sys,dev,mod}
  cp /bin/busybox "$root/bin/busybox" # busybox-static
  for a in sh mount insmod sed cat echo sleep uname; do ln -s busybox "$root/bin/$a"; done
  # iproute2's ip and tc (busybox's tc has no netem), with their shared libraries and the loader. The
  # init script calls them by full path: busybox's sh would run its own applets of the same names.
  mkdir -p "$root/usr/sbin"
  for bin in /usr/sbin/ip /usr/sbin/tc; do
    cp "$bin" "$root$bin"
    for so in $(ldd "$bin" | grep -o '/[^ ]*'); do
      mkdir -p "$root$(dirname "$so")"
      cp -L "$so" "$root$so"
    done
  done
  # Each module after its dependencies: modules.dep lists a module's dependencies, deepest last.
  : >"$root/mod/order"
  for m in $MODULES; do
    for dep in $(grep "/$m.ko:" "$lib/modules.dep" | tr -d ':' | tr ' ' '\n' | tac); do
      grep -qx "$(basename "$dep")" "$root/mod/order" && continue
      cp "$lib/$dep" "$root/mod/"
      basename "$dep" >>"$root/mod/order"
    done
  done
  cat >"$root/init" <<'EOF'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /mod/order); do insmod /mod/$m || echo "cmlf-router: insmod $m failed"; done
delay=$(sed -n 's/.*cmlf_netem_delay_us=\([0-9]*\).*/\1/p' /proc/cmdline)
ip=/usr/sbin/ip tc=/usr/sbin/tc
$ip link add br0 type bridge stp_state 0 forward_delay 0
for dev in eth0 eth1; do
  $ip link set $dev master br0 up
  $tc qdisc add dev $dev root netem delay ${delay}us limit 10000 || exit 1
done
$ip link set br0 up
echo "cmlf-router: kernel $(uname -r)"
$tc qdisc show dev eth0
$tc qdisc show dev eth1
echo "cmlf-router: ready"
while :; do sleep 3600; done
EOF
  chmod +x "$root/init"
  (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$INITRD.tmp"
  mv "$INITRD.tmp" "$INITRD"
  rm -rf "$root"
  log "built $INITRD ($(du -h "$INITRD" | cut -f1))"
}

stop() {
  local pid
  if [ -f "$STATE/qemu.pid" ]; then
    pid=$(cat "$STATE/qemu.pid")
    # Only our own VM: its command line names our state directory.
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$STATE"; then
      kill "$pid"
      for _ in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
      [ -d "/proc/$pid" ] && kill -9 "$pid"
    fi
    rm -f "$STATE/qemu.pid"
  fi
  ip netns del "$NS" 2>/dev/null || true # takes cmlf-tap0 with it
  ip link del "$TAP0" 2>/dev/null || true
  ip link del "$TAP1" 2>/dev/null || true
}

ping_summary() {
  ip netns exec "$NS" ping -q -n -c "${1:-5}" -i 0.2 "$SERVER_IP" | grep -E '^(rtt|round-trip)'
}

start() {
  local rtt=$1 started
  [[ $rtt =~ ^[0-9]+$ ]] || { log "RTT_MS must be a whole number of milliseconds"; exit 2; }
  stop
  mkdir -p "$STATE"
  build_initramfs
  for tap in "$TAP0" "$TAP1"; do ip tuntap add dev "$tap" mode tap; done
  started=$(date +%s%N)
  # QEMU opens a tap by name in its own namespace: both taps are in the root one until it has.
  qemu-system-x86_64 -accel tcg -m 256 -smp 1 -nodefaults -no-user-config -display none \
    -kernel "$KERNEL" -initrd "$INITRD" \
    -append "console=ttyS0 quiet panic=-1 cmlf_netem_delay_us=$((rtt * 500))" \
    -netdev "tap,id=n0,ifname=$TAP0,script=no,downscript=no" -device virtio-net-pci,netdev=n0,mac=52:54:00:77:00:10 \
    -netdev "tap,id=n1,ifname=$TAP1,script=no,downscript=no" -device virtio-net-pci,netdev=n1,mac=52:54:00:77:00:20 \
    -serial "file:$STATE/console.log" -no-reboot -daemonize -pidfile "$STATE/qemu.pid"
  ip netns add "$NS"
  ip link set "$TAP0" netns "$NS"
  ip -n "$NS" link set lo up
  ip -n "$NS" addr add "$CLIENT_IP/24" dev "$TAP0"
  ip -n "$NS" link set "$TAP0" up
  ip addr add "$SERVER_IP/24" dev "$TAP1"
  ip link set "$TAP1" up
  for _ in $(seq 600); do
    [ -d "/proc/$(cat "$STATE/qemu.pid")" ] || break
    if grep -q 'cmlf-router: ready' "$STATE/console.log" 2>/dev/null &&
      ip netns exec "$NS" ping -q -n -c 1 -W 1 "$SERVER_IP" >/dev/null 2>&1; then
      log "router up with RTT $rtt ms after $((($(date +%s%N) - started) / 1000000)) ms ($(grep -o 'kernel [^,]*' "$STATE/console.log"))"
      return
    fi
    sleep 0.5
  done
  log "router did not come up; console:"
  cat "$STATE/console.log" >&2
  stop
  exit 1
}

case "${1:-}" in
  start) start "${2:?usage: $0 start RTT_MS}" ;;
  stop) stop ;;
  ping) ping_summary "${2:-5}" ;;
  *) sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//;$d' >&2; exit 2 ;;
esac
