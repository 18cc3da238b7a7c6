#!/usr/bin/python3
"""memscan: searches a live process's memory for strings, as a core dump
of it would show them (issue 20: no PIN in the front end's memory).

  memscan.py PID FILE...

Each FILE holds one needle (its content, trailing newline dropped).
Reads every readable mapping through /proc/PID/mem (root, or ptrace
rights) and prints "found FILE" or "absent FILE" per needle, then the
number of bytes read. Exit 2 if nothing could be read.
"""
import sys

pid = int(sys.argv[1])
needles = []
for path in sys.argv[2:]:
    with open(path, "rb") as f:
        needles.append((path, f.read().rstrip(b"\r\n")))
found = {p: False for p, _ in needles}
total = skipped = 0
CHUNK = 1 << 20
# Mappings past 1 GiB are reservations (a sanitizer's shadow memory), not
# data the process wrote: skipped, and counted.
LARGE = 1 << 30
longest = max((len(n) for _, n in needles), default=1)
with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb", 0) as mem:
    for line in maps:
        fields = line.split()
        lo, hi = (int(x, 16) for x in fields[0].split("-"))
        if "r" not in fields[1] or (len(fields) > 5 and fields[5] in ("[vvar]", "[vsyscall]")):
            continue
        if hi - lo > LARGE:
            skipped += hi - lo
            continue
        tail = b""
        at = lo
        while at < hi:
            try:
                mem.seek(at)
                data = mem.read(min(CHUNK, hi - at))
            except OSError:
                break
            if not data:
                break
            total += len(data)
            window = tail + data  # a needle across two chunks
            for p, n in needles:
                if n and n in window:
                    found[p] = True
            tail = data[-longest:]
            at += len(data)
for p, _ in needles:
    print(("found " if found[p] else "absent ") + p)
print("read %d (skipped %d of reservations)" % (total, skipped))
sys.exit(0 if total > 0 else 2)
