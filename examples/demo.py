"""``make demo``: a server and 3 clients in a temporary directory, one orchestration, the job table."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from directord.testing import Cluster

HELLO = Path(__file__).with_name("hello.yaml")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="directord-demo-") as tmp:
        cluster = Cluster(Path(tmp), clients=3)
        print(f"starting a server and 3 clients in {tmp} (job port {cluster.job_port})")
        try:
            cluster.start()
            for args in (("node", "list"), ("orchestrate", str(HELLO), "--wait"),
                         ("job", "list"), ("job", "show", "last", "-c", "JOB_NAME", "-c", "STDOUT")):
                print(f"\n$ directord {' '.join(args)}", flush=True)
                result = cluster.cli(*args)
                print(result.stdout + result.stderr, end="", flush=True)
                if result.returncode != 0:
                    print(cluster.logs(), file=sys.stderr)
                    return result.returncode
        finally:
            cluster.stop()
    print("\nstopped the server and clients; the demo left nothing behind.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
