# Feast's own SDK (0.66, unchanged) against the EchoTune Workers, over the repo that
# `npm run registry -- export-feast` wrote: reads of features, of a feature service and of on-demand
# features with request data, push, write_to_online_store and materialize, each compared with our
# own API (/features/get). Run by `npm run feast:e2e` in that repo's directory. Prints one line per
# check and ends with "feast-sdk: N passed, M failed"; exits 1 when a check failed.
import json, os, time, traceback, urllib.request
from datetime import datetime, timezone, timedelta
import pandas as pd
from feast import FeatureStore
from feast.data_source import PushMode

store = FeatureStore(repo_path=".")
key = os.environ["FEATURE_STORE_API_KEY"]
base = os.environ.get("FEATURE_STORE_URL", "http://127.0.0.1:8787")
results = []

def ours(body):
    req = urllib.request.Request(f"{base}/features/get", data=json.dumps(body).encode(), headers={"authorization": f"Bearer {key}", "content-type": "application/json"})
    return json.loads(urllib.request.urlopen(req).read())["features"]

def same(a, b):
    if isinstance(a, float) and isinstance(b, (int, float)):
        return abs(a - b) < 1e-9
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b

def check(name):
    def run(fn):
        try:
            detail = fn()
            results.append(True)
            print(f"  ok    {name}: {detail}")
        except Exception as e:
            results.append(False)
            print(f"  FAIL  {name}: {e}")
            traceback.print_exc(limit=2)
    return run

def compare(out, rows, names, ours_body):
    mismatches = []
    for row, ident in enumerate(rows):
        mine = ours(ours_body(ident))
        for n in names:
            if not same(out[n][row], mine[n]):
                mismatches.append(f"{ident}.{n}: feast {out[n][row]!r} vs ours {mine[n]!r}")
    if mismatches:
        raise AssertionError(f"{len(mismatches)} mismatches, e.g. {mismatches[:3]}")
    return len(rows) * len(names)

def wait_for(fn, what, timeout=30):
    t0 = time.time()
    while time.time() - t0 < timeout:
        got = fn()
        if got is not None:
            return time.time() - t0, got
        time.sleep(0.25)
    raise AssertionError(f"{what} not visible after {timeout} s")

@check("get_online_features (features of four views) equals /features/get")
def _():
    compared = 0
    for view, entity_key, ids in [("user_behavior_features", "user_id", ["user_1", "user_2", "user_3"]), ("user_profile_features", "user_id", ["user_1", "user_2"]), ("track_audio_features", "track_id", ["track_1", "track_2"]), ("artist_features", "artist_id", ["artist_1"])]:
        names = [f.name for f in store.get_feature_view(view).features]
        out = store.get_online_features(features=[f"{view}:{n}" for n in names], entity_rows=[{entity_key: i} for i in ids]).to_dict()
        compared += compare(out, ids, names, lambda i: {"entity_id": i, "feature_names": names})
    return f"{compared} values, 0 mismatches"

@check("get_online_features (a feature service) equals /features/get with feature_service")
def _():
    service = store.get_feature_service("skip_predictor_v1")
    ids = ["user_1", "user_2", "user_4"]
    out = store.get_online_features(features=service, entity_rows=[{"user_id": i} for i in ids]).to_dict()
    names = [f.name for p in service.feature_view_projections for f in p.features]
    n = compare(out, ids, names, lambda i: {"entity_id": i, "feature_service": "skip_predictor_v1"})
    return f"{n} values of {len(names)} features, 0 mismatches"

@check("get_online_features (on-demand features with request data in the entity rows) equals /features/get with context")
def _():
    ctx = {"source": "Discover Weekly", "timestamp": "2026-12-01T08:30:00Z", "timezone": "UTC"}
    out = store.get_online_features(features=["interaction_features:listening_source", "session_features_on_demand:time_of_day"], entity_rows=[{"user_id": "user_1", "session_id": "session_1", **ctx}]).to_dict()
    mine = ours({"entity_id": "user_1", "entities": {"session": "session_1"}, "feature_names": ["listening_source", "session_features:time_of_day"], "context": ctx})
    got = {"listening_source": out["listening_source"][0], "time_of_day": out["time_of_day"][0]}
    want = {"listening_source": mine["listening_source"], "time_of_day": mine["session_features:time_of_day"]}
    if got != want or None in got.values():
        raise AssertionError(f"feast {got} vs ours {want}")
    return json.dumps(got)

def write_and_read(users, values, write):
    ts = datetime.now(timezone.utc) - timedelta(seconds=5)
    ubf = [f.name for f in store.get_feature_view("user_profile_features").features]
    current = ours({"entity_id": "user_1", "feature_names": ubf})
    df = pd.DataFrame([{**current, "user_id": u, "listening_hours_weekly": v, "event_timestamp": ts} for u, v in zip(users, values)])
    write(df)
    def seen():
        got = store.get_online_features(features=["user_profile_features:listening_hours_weekly"], entity_rows=[{"user_id": u} for u in users]).to_dict()
        return got if got["listening_hours_weekly"] == values else None
    took, _ = wait_for(seen, "the written rows")
    mine = [ours({"entity_id": u, "feature_names": ["listening_hours_weekly"]})["listening_hours_weekly"] for u in users]
    if mine != values:
        raise AssertionError(f"/features/get answers {mine}, wrote {values}")
    return f"{len(users)} rows visible through Feast and /features/get after {took:.1f} s"

stamp = int(time.time()) % 100000

@check("write_to_online_store, then read back")
def _():
    return write_and_read([f"user_fe2e_w{stamp}_1", f"user_fe2e_w{stamp}_2"], [11.5, 12.5], lambda df: store.write_to_online_store("user_profile_features", df))

@check("push (to online), then read back")
def _():
    return write_and_read([f"user_fe2e_p{stamp}_1", f"user_fe2e_p{stamp}_2"], [21.5, 22.5], lambda df: store.push("user_profile_features_push", df, to=PushMode.ONLINE))

@check("materialize_incremental and materialize of a view")
def _():
    now = datetime.now(timezone.utc)
    store.materialize_incremental(end_date=now, feature_views=["track_audio_features"])
    store.materialize(start_date=now - timedelta(days=1), end_date=now, feature_views=["artist_features"])
    return "both answered 200 after their runs finished"

passed = sum(results)
failed = len(results) - passed
print(f"feast-sdk: {passed} passed, {failed} failed")
raise SystemExit(1 if failed else 0)
