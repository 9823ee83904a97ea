"""Keeps a LanceDB table (embedded, on local disk) in step with eddy's embeddings output and
answers nearest-neighbour queries from it.

eddy's embeddings sink is a compacted topic's worth of records: key `user:<id>` or
`item:<id>`, value `{kind, id, vector, modelVersion, eventTime}`, and a tombstone (empty value in
a replay file, null on Kafka) for an evicted id. The follower upserts every vector by key
(LanceDB merge_insert) and deletes every tombstoned key, in the order the records come, one
publication at a time; the table then holds exactly the latest vector of every live id.

    follow.py --embeddings out/embeddings.replay --db out/lancedb [--user u17 ...]

reads a replay file (eddy's replay sink: an Arrow IPC file of records), applies it, and prints
the 10 items with the highest dot product for each `--user` (eddy's score, so the same list as
eddy's `topK` for that user at that point of the stream). `--kafka BROKERS --topic T` follows a
topic instead (needs the `confluent-kafka` package; not used by the tests).

`--plan PLAN.json --answers OUT.json` is what the test drives: PLAN is a list of
`{"until": T, "users": [...]}`; for each step the records with eventTime <= T are applied, then
the users are queried; OUT gets the answers and, at the end, the whole table.
"""

import argparse
import json
import sys

import lancedb
import pyarrow as pa
import pyarrow.ipc as ipc

TABLE = "embeddings"


def read_replay(path):
    """(key, value bytes or None, timestamp) of every record of an eddy replay file, in order."""
    with ipc.open_file(path) as f:
        t = f.read_all()
    keys = t.column("key").to_pylist()
    values = t.column("value").to_pylist()
    times = t.column("timestamp").to_pylist()
    for k, v, ts in zip(keys, values, times):
        yield k.decode(), (v if v else None), ts


def quote(s):
    return "'" + s.replace("'", "''") + "'"


class Store:
    """A LanceDB table of the live vectors: key, kind, id, vector, modelVersion."""

    def __init__(self, path):
        self.db = lancedb.connect(path)
        self.table = None
        self.pending = {}  # key -> row or None (tombstone), in arrival order

    def _schema(self, dim):
        return pa.schema(
            [
                pa.field("key", pa.string(), nullable=False),
                pa.field("kind", pa.string(), nullable=False),
                pa.field("id", pa.string(), nullable=False),
                pa.field("vector", pa.list_(pa.float32(), dim), nullable=False),
                pa.field("modelVersion", pa.int64(), nullable=False),
            ]
        )

    def record(self, key, value):
        """Queues one record (a later record for the same key replaces an earlier one)."""
        self.pending.pop(key, None)
        if value is None:
            self.pending[key] = None
        else:
            v = json.loads(value)
            self.pending[key] = {"key": key, "kind": v["kind"], "id": str(v["id"]), "vector": v["vector"], "modelVersion": v["modelVersion"]}

    def flush(self):
        """Applies the queued records: one merge_insert of the vectors, one delete of the tombstones."""
        rows = [r for r in self.pending.values() if r is not None]
        gone = [k for k, r in self.pending.items() if r is None]
        self.pending = {}
        if rows:
            data = pa.Table.from_pylist(rows, schema=self._schema(len(rows[0]["vector"])))
            if self.table is None:
                if TABLE in self.db.table_names():
                    self.table = self.db.open_table(TABLE)
                else:
                    self.table = self.db.create_table(TABLE, schema=data.schema)
            self.table.merge_insert("key").when_matched_update_all().when_not_matched_insert_all().execute(data)
        if gone and self.table is not None:
            for n in range(0, len(gone), 500):
                self.table.delete("key IN (" + ", ".join(quote(k) for k in gone[n : n + 500]) + ")")

    def top(self, user, k=10):
        """The k items with the highest dot product with the user's vector (None: no such user)."""
        if self.table is None:
            return None
        hit = self.table.search().where(f"key = {quote('user:' + user)}").limit(1).to_list()
        if not hit:
            return None
        res = self.table.search(hit[0]["vector"]).distance_type("dot").where("kind = 'item'", prefilter=True).limit(k).to_list()
        return [r["id"] for r in res]

    def rows(self):
        if self.table is None:
            return []
        return self.table.to_arrow().select(["key", "vector"]).to_pylist()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--embeddings", help="eddy's embeddings replay file")
    ap.add_argument("--kafka", help="brokers of a Kafka cluster to follow instead (with --topic)")
    ap.add_argument("--topic", default="embeddings")
    ap.add_argument("--db", required=True, help="LanceDB directory")
    ap.add_argument("--user", action="append", default=[], help="a user id to query (as eddy writes it)")
    ap.add_argument("--plan")
    ap.add_argument("--answers")
    a = ap.parse_args()
    store = Store(a.db)

    if a.plan:
        plan = json.load(open(a.plan))
        records = list(read_replay(a.embeddings))
        out, n = [], 0
        for step in plan:
            while n < len(records) and records[n][2] <= step["until"]:
                store.record(records[n][0], records[n][1])
                n += 1
            store.flush()
            out.append({"until": step["until"], "answers": {u: store.top(u) for u in step["users"]}})
        while n < len(records):
            store.record(records[n][0], records[n][1])
            n += 1
        store.flush()
        json.dump({"steps": out, "table": store.rows()}, open(a.answers, "w"))
        return

    if a.kafka:
        from confluent_kafka import Consumer  # optional: only for following a live topic

        c = Consumer({"bootstrap.servers": a.kafka, "group.id": "eddy-vector-store", "auto.offset.reset": "earliest", "isolation.level": "read_committed"})
        c.subscribe([a.topic])
        idle = 0
        while idle < 10:
            msg = c.poll(1.0)
            if msg is None:
                store.flush()
                idle += 1
                continue
            idle = 0
            store.record(msg.key().decode(), msg.value())
        store.flush()
    else:
        for key, value, _ in read_replay(a.embeddings):
            store.record(key, value)
        store.flush()
    live = store.table.count_rows() if store.table is not None else 0
    print(f"{live} live vectors in {a.db}/{TABLE}.lance")
    for u in a.user:
        print(f"top 10 for {u}: {store.top(u)}")


if __name__ == "__main__":
    sys.exit(main())
