"""Baseline for the benchmarks: a plain grpcio server (ThreadPoolExecutor) answering Pool.Execute
'ping' the way a pitboss worker does. Usage: py_ping_server.py PORT [THREADS]"""
import json
import os
import sys
from concurrent import futures

sys.path.insert(0, os.environ["PITBOSS_PYGEN"])
import grpc  # noqa: E402
import pitboss_pb2 as pb  # noqa: E402
import pitboss_pb2_grpc as pb_grpc  # noqa: E402


class Pool(pb_grpc.PoolServicer):
    def Execute(self, request, context):
        if request.command != "ping":
            context.abort(grpc.StatusCode.NOT_FOUND, f"unknown command {request.command!r}")
        args = json.loads(request.args_json or "{}")  # parse the args, as the worker does
        del args
        return pb.ExecuteResponse(result_json=json.dumps({"pong": True, "pid": os.getpid()}),
                                  worker=pb.WorkerRef(pid=os.getpid()))


def main():
    port = int(sys.argv[1])
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=threads))
    pb_grpc.add_PoolServicer_to_server(Pool(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    print("READY", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
