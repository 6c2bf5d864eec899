"""Encode 100,000 typical batch commands and print commands per second (run by hand).

python tests/bench/bench_encoding.py [N]
"""

from __future__ import annotations

import argparse
import time

from b24sync.client.encoding import encode_command


def command_params(i: int) -> dict[str, object]:
    return {
        "entityTypeId": 3,
        "fields": {
            "name": f"Анна {i}",
            "lastName": "O'Neil & Sons",
            "companyId": f"$result[company_{i // 50}][item][id]",
            "opened": True,
            "originatorId": "shop",
            "originId": str(i),
            "fm": [{"typeId": "EMAIL", "valueType": "WORK", "value": f"ann{i}@example.org"}],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("count", nargs="?", type=int, default=100_000, help="commands (default 100000)")
    count = parser.parse_args().count
    params = [command_params(i) for i in range(count)]
    started = time.perf_counter()
    total = 0
    for item in params:
        total += len(encode_command("crm.item.add", item))
    elapsed = time.perf_counter() - started
    print(
        f"{count} commands encoded in {elapsed:.3f} s: {count / elapsed:,.0f} commands/s, "
        f"{elapsed / count * 1e6:.1f} us per command, {total / count:.0f} bytes per command"
    )


if __name__ == "__main__":
    main()
