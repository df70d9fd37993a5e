# Feast's SDK against the EchoTune dev stack, over the repo `npm run registry -- export-feast` wrote.
import json, os, time, urllib.request
from datetime import datetime, timezone, timedelta
import pandas as pd
from feast import FeatureStore
store = FeatureStore(repo_path=".")
key = os.environ["FEATURE_STORE_API_KEY"]
base = os.environ.get("FEATURE_STORE_URL", "http://127.0.0.1:8787")
def ours(entity, names):
    req = urllib.request.Request(f"{base}/features/get", data=json.dumps({"entity_id": entity, "feature_names": names}).encode(), headers={"authorization": f"Bearer {key}", "content-type": "application/json"})
    return json.loads(urllib.request.urlopen(req).read())["features"]
compared = mismatches = 0
for view, entity_key, ids in [("user_behavior_features", "user_id", ["user_1", "user_2", "user_3"]), ("user_profile_features", "user_id", ["user_1", "user_2"]), ("track_audio_features", "track_id", ["track_1", "track_2"]), ("artist_features", "artist_id", ["artist_1"])]:
    fv = store.get_feature_view(view)
    names = [f.name for f in fv.features]
    out = store.get_online_features(features=[f"{view}:{n}" for n in names], entity_rows=[{entity_key: i} for i in ids]).to_dict()
    for row, i in enumerate(ids):
        mine = ours(i, names)
        for n in names:
            compared += 1
            a, b = out[n][row], mine[n]
            if (a != b) and not (isinstance(a, float) and isinstance(b, (int, float)) and abs(a - b) < 1e-9):
                mismatches += 1
                print("MISMATCH", view, i, n, a, b)
print(f"get_online_features: {compared} values compared with /features/get, {mismatches} mismatches")
odfv = store.get_online_features(features=["interaction_features:listening_source", "session_features_on_demand:time_of_day"], entity_rows=[{"user_id": "user_1", "session_id": "session_1", "source": "Discover Weekly", "timestamp": "2026-12-01T08:30:00Z", "timezone": "UTC"}]).to_dict()
print("on-demand:", {k: odfv[k] for k in ["listening_source", "time_of_day"]})
svc_users = ["user_9101", "user_9102"]
ts = datetime.now(timezone.utc) - timedelta(seconds=5)
ubf = [f.name for f in store.get_feature_view("user_behavior_features").features]
current = ours("user_1", ubf)
row = {n: current[n] for n in ubf}
row["skip_rate_7d"] = None
df = pd.DataFrame([{**row, "user_id": u, "skip_rate_7d": v, "event_timestamp": ts} for u, v in zip(svc_users, [0.31, 0.32])])
store.write_to_online_store("user_behavior_features", df)
t0 = time.time()
while time.time() - t0 < 20:
    got = store.get_online_features(features=["user_behavior_features:skip_rate_7d"], entity_rows=[{"user_id": u} for u in svc_users]).to_dict()
    if got["skip_rate_7d"] == [0.31, 0.32]:
        print(f"write_to_online_store visible after {time.time() - t0:.1f} s")
        break
    time.sleep(0.25)
else:
    print("write NOT visible", got)
