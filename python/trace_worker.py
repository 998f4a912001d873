"""MLflow's Python client as a long-lived worker for cleanup and migrate, when
no server runs. Run by src/services/trace-backend.ts (PythonBackend).

argv: <backend store URI, password masked> (the real URI comes in
CLAUDE_MLFLOW_BACKEND_STORE_URI).
stdin: one JSON request per line, {id, op, args}; stdout: one JSON answer per
line, {id, ok, result | error}; the first answer (id 0) gives MLflow's version.
SIGINT is ignored; the worker exits when stdin closes.
"""
import sys

# Python put this file's folder first on sys.path: take it out, so that every import comes from the venv.
if not getattr(sys.flags, "safe_path", False):
    del sys.path[0]

import signal
signal.signal(signal.SIGINT, signal.SIG_IGN)
import json, sys, traceback
out = sys.stdout
def reply(obj):
    out.write(json.dumps(obj) + "\n")
    out.flush()
try:
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import ViewType
    from mlflow.exceptions import MlflowException
    import os
    client = MlflowClient(tracking_uri=os.environ.pop("CLAUDE_MLFLOW_BACKEND_STORE_URI", None) or sys.argv[1])
    # Counting is the one job with no public client call: MLflow answers it in its REST API
    # (POST /api/3.0/mlflow/traces/metrics) and in its tracking store's query_trace_metrics
    # (3.7 and later), never in MlflowClient. So count() asks the client's own store, the
    # same store instance every public call here goes through; all else is MlflowClient's API.
    metrics_store = client._tracing_client.store
except Exception as e:
    reply({"id": 0, "ok": False, "error": "%s: %s" % (type(e).__name__, e)})
    sys.exit(1)

def exp(e):
    return {"id": e.experiment_id, "name": e.name, "deleted": e.lifecycle_stage == "deleted"}

def get_experiment(a):
    try:
        return exp(client.get_experiment(a["id"]))
    except MlflowException as e:
        if e.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise

def get_experiment_by_name(a):
    e = client.get_experiment_by_name(a["name"])
    return exp(e) if e else None

def list_experiments(a):
    found, token = [], None
    while True:
        page = client.search_experiments(view_type=ViewType.ALL, max_results=1000, page_token=token)
        found += [exp(e) for e in page]
        token = page.token
        if not token:
            return found

def search_page(experiment_id, **query):
    # Trace infos only (include_spans=False): one query of the store, no span is read.
    return client.search_traces(locations=[experiment_id], include_spans=False, **query)

def search(a):
    page = search_page(
        a["experiment_id"],
        filter_string=a.get("filter"),
        max_results=a.get("max_results", 500),
        order_by=a.get("order_by"),
        page_token=a.get("page_token"),
    )
    token = page.token
    if isinstance(token, bytes):
        token = token.decode("ascii")
    return {"traces": [{"id": t.info.trace_id, "timestamp_ms": t.info.request_time} for t in page], "next": token}

def count(a):
    ids, max_ts = a["experiment_ids"], a.get("max_timestamp_ms")
    if hasattr(metrics_store, "query_trace_metrics"):
        from mlflow.entities.trace_metrics import AggregationType, MetricAggregation, MetricViewType
        points = metrics_store.query_trace_metrics(
            experiment_ids=ids,
            view_type=MetricViewType.TRACES,
            metric_name="trace_count",
            aggregations=[MetricAggregation(AggregationType.COUNT)],
            end_time_ms=max_ts,
        )
        return int(sum(p.values.get("COUNT", 0) for p in points))
    total = 0
    for i in ids:
        token = None
        while True:
            page = search_page(i, filter_string=None if max_ts is None else "trace.timestamp_ms <= %d" % max_ts, max_results=500, page_token=token)
            total += len(page)
            token = page.token
            if not token:
                break
    return total

def delete(a):
    return client.delete_traces(
        experiment_id=a["experiment_id"],
        max_timestamp_millis=a.get("max_timestamp_ms"),
        max_traces=a.get("max_traces"),
        trace_ids=a.get("ids"),
    )

OPS = {"get_experiment": get_experiment, "get_experiment_by_name": get_experiment_by_name,
       "list_experiments": list_experiments, "search": search, "count": count, "delete": delete}

reply({"id": 0, "ok": True, "result": {"version": mlflow.__version__}})
for line in sys.stdin:
    if not line.strip():
        continue
    req = json.loads(line)
    try:
        reply({"id": req["id"], "ok": True, "result": OPS[req["op"]](req.get("args", {}))})
    except Exception as e:
        reply({"id": req["id"], "ok": False, "error": "%s: %s" % (type(e).__name__, e), "code": getattr(e, "error_code", None)})
