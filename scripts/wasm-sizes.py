#!/usr/bin/env python3
"""What weighs in the WebAssembly bundle, function by function.

Build twice with "-g" first in `wasm-opt-features` (Cargo.toml) so that
wasm-opt keeps the name section, copy `target/site/pkg/*.wasm` aside each
time, then:

    scripts/wasm-sizes.py OLD.wasm NEW.wasm [ROWS]   # the biggest changes
    scripts/wasm-sizes.py BUNDLE.wasm [ROWS]         # the biggest functions

Sizes are bytes of code (function bodies) as built, before compression;
names lose their hash suffixes, so the same function in two builds lines up.
Only the standard library: nothing to install.
"""

import collections
import re
import sys


def leb(data, i):
    result = shift = 0
    while True:
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, i


def function_sizes(path):
    data = open(path, "rb").read()
    i, imports, bodies, names = 8, 0, [], {}
    while i < len(data):
        section = data[i]
        size, i = leb(data, i + 1)
        end = i + size
        if section == 2:  # imports: functions among them take the first indices
            count, j = leb(data, i)
            for _ in range(count):
                for _ in range(2):
                    length, j = leb(data, j)
                    j += length
                kind = data[j]
                j += 1
                if kind == 0:
                    _, j = leb(data, j)
                    imports += 1
                elif kind in (1, 2):  # table, memory
                    j += 1 if kind == 1 else 0
                    flags, j = leb(data, j)
                    _, j = leb(data, j)
                    if flags & 1:
                        _, j = leb(data, j)
                else:  # global
                    j += 2
        elif section == 10:  # code
            count, j = leb(data, i)
            for _ in range(count):
                length, j = leb(data, j)
                bodies.append(length)
                j += length
        elif section == 0:  # custom: the name section
            length, j = leb(data, i)
            if data[j : j + length] == b"name":
                j += length
                while j < end:
                    sub = data[j]
                    sub_size, j = leb(data, j + 1)
                    if sub == 1:
                        count, k = leb(data, j)
                        for _ in range(count):
                            index, k = leb(data, k)
                            length, k = leb(data, k)
                            names[index] = data[k : k + length].decode("utf8", "replace")
                            k += length
                    j += sub_size
        i = end
    sizes = collections.Counter()
    for n, size in enumerate(bodies):
        name = names.get(n + imports, f"function {n + imports}")
        name = re.sub(r"::h[0-9a-f]{16}$", "", re.sub(r"\[[0-9a-f]+\]", "", name))
        sizes[name] += size
    return sizes


def main(args):
    rows = int(args[-1]) if args and args[-1].isdigit() else 40
    paths = [a for a in args if not a.isdigit()]
    if len(paths) == 1:
        sizes = function_sizes(paths[0])
        print(f"{sum(sizes.values())} bytes of code")
        for name, size in sizes.most_common(rows):
            print(f"{size:8} {name[:150]}")
    elif len(paths) == 2:
        old, new = function_sizes(paths[0]), function_sizes(paths[1])
        print(f"{sum(old.values())} -> {sum(new.values())} bytes of code")
        change = {n: new[n] - old[n] for n in set(old) | set(new)}
        for name, delta in sorted(change.items(), key=lambda kv: -abs(kv[1]))[:rows]:
            print(f"{delta:+8} {old[name]:8} {new[name]:8} {name[:130]}")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
