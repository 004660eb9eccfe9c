"""The trivial handler both sides of bench_python.py run."""
import pitboss


def add(a, b):
    return {"sum": a + b}


pitboss.command(add)


@pitboss.command
def noop():
    return None


def spin_loop(n):
    """The CPU-bound function bench_python_cpu.py times in a worker and under /usr/bin/python3."""
    s = 0
    for i in range(n):
        s += i * i % 7
    return s


@pitboss.command
def spin(n):
    import time
    t = time.perf_counter()
    spin_loop(n)
    return {"seconds": time.perf_counter() - t}
