"""The trivial handler both sides of bench_python.py run."""
import pitboss


def add(a, b):
    return {"sum": a + b}


pitboss.command(add)


@pitboss.command
def noop():
    return None
