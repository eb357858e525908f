#!/usr/bin/python3
"""A `tc qdisc ... netem` stand-in for kernels built without sch_netem (CONFIG_NET_SCH_NETEM
unset, no modules): a userspace link between two TUN devices (tests/lab/netem_link.sh sets
them up, one in the scanner's namespace, one in the targets' namespace).

Every packet read from one TUN device is written to the other after `delay` +- `jitter` ms
(uniform, so packets reorder as netem's reorder them) or dropped with probability `loss` %,
each direction on its own, as netem on `lo` treats every packet once.

Usage: netem_link.py TUN_A TUN_B CTL LOG. Prints `ready` once both devices are open.
SIGUSR1: read CTL (`N DELAY_MS JITTER_MS LOSS_PCT`), apply it and log `mark N ...` before the
next packet is handled. LOG gets one line per packet from TUN_B to TUN_A (the targets' answers,
the wire truth of each probe): `T_MS KIND ADDR PORT FATE` with KIND in SA (SYN-ACK), FIN, RST,
ICMP (TCP port of the packet the ICMP error quotes), FATE `ok` or `lost`; T_MS is when it was
read (ms, monotonic).
"""
import fcntl
import heapq
import os
import random
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def answer(pkt):
    """(kind, addr, port) of a target's answer, or None."""
    if len(pkt) < 20 or pkt[0] >> 4 != 4:
        return None
    ihl = (pkt[0] & 15) * 4
    proto = pkt[9]
    if proto == 6 and len(pkt) >= ihl + 14:
        addr = ".".join(str(b) for b in pkt[12:16])
        port = struct.unpack("!H", pkt[ihl:ihl + 2])[0]
        flags = pkt[ihl + 13]
        if flags & 0x04:
            return ("RST", addr, port)
        if flags & 0x12 == 0x12:
            return ("SA", addr, port)
        if flags & 0x01:
            return ("FIN", addr, port)
        return None
    if proto == 1 and len(pkt) >= ihl + 8 + 20 and pkt[ihl] == 3:
        inner = pkt[ihl + 8:]
        iihl = (inner[0] & 15) * 4
        if len(inner) >= iihl + 4:
            addr = ".".join(str(b) for b in inner[16:20])
            port = struct.unpack("!H", inner[iihl + 2:iihl + 4])[0]
            return ("ICMP", addr, port)
    return None


def main():
    tun_a, tun_b, ctl, log_path = sys.argv[1:5]
    fa, fb = open_tun(tun_a), open_tun(tun_b)
    other = {fa: fb, fb: fa}
    log = open(log_path, "a", buffering=1 << 16)
    prof = {"delay": 0.0, "jitter": 0.0, "loss": 0.0}
    pending = {"ctl": False}
    signal.signal(signal.SIGUSR1, lambda *_: pending.update(ctl=True))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("ready", flush=True)
    t0 = time.monotonic()
    heap, seq = [], 0
    while True:
        if pending["ctl"]:
            pending["ctl"] = False
            with open(ctl) as f:
                n, delay, jitter, loss = f.read().split()
            prof.update(delay=float(delay), jitter=float(jitter), loss=float(loss))
            log.write(f"mark {n} {delay} {jitter} {loss}\n")
            log.flush()
        wait = 0.02
        if heap:
            wait = min(wait, max(0.0, heap[0][0] - time.monotonic()))
        ready, _, _ = select.select([fa, fb], [], [], wait)
        now = time.monotonic()
        for fd in ready:
            while True:
                try:
                    pkt = os.read(fd, 65535)
                except BlockingIOError:
                    break
                lost = random.random() * 100 < prof["loss"]
                if fd == fb:
                    a = answer(pkt)
                    if a:
                        fate = "lost" if lost else "ok"
                        log.write(f"{(now - t0) * 1000:.3f} {a[0]} {a[1]} {a[2]} {fate}\n")
                if lost:
                    continue
                d = prof["delay"] + random.uniform(-prof["jitter"], prof["jitter"])
                heapq.heappush(heap, (now + max(0.0, d) / 1000, seq, other[fd], pkt))
                seq += 1
        now = time.monotonic()
        while heap and heap[0][0] <= now:
            _, _, fd, pkt = heapq.heappop(heap)
            try:
                os.write(fd, pkt)
            except OSError as e:
                log.write(f"write-error {e.errno}\n")


if __name__ == "__main__":
    main()
