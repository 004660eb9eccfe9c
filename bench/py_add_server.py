"""Baseline for bench_python.py: a plain grpcio server (ThreadPoolExecutor) running the same `add`
function as the pitboss handler, behind the same Pool.Execute method. Usage: py_add_server.py PORT"""
import json
import os
import sys
from concurrent import futures

sys.path.insert(0, os.environ["PITBOSS_PYGEN"])
import grpc  # noqa: E402
import pitboss_pb2 as pb  # noqa: E402
import pitboss_pb2_grpc as pb_grpc  # noqa: E402


def add(a, b):
    return {"sum": a + b}


class Pool(pb_grpc.PoolServicer):
    def Execute(self, request, context):
        if request.command != "add":
            context.abort(grpc.StatusCode.NOT_FOUND, f"unknown command {request.command!r}")
        args = json.loads(request.args_json or "{}")
        return pb.ExecuteResponse(result_json=json.dumps(add(**args)))


def main():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    pb_grpc.add_PoolServicer_to_server(Pool(), server)
    server.add_insecure_port(f"127.0.0.1:{sys.argv[1]}")
    server.start()
    server.wait_for_termination()


if __name__ == "__main__":
    main()
