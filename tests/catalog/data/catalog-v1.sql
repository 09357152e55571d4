-- A catalog written by schema 1's code (two OCR versions, one a child with a diagnosis trigger
-- and the largest seed, a speech version without inputs, and a failed build), dumped with
-- sqlite3's iterdump. Frozen: a later schema must still open it and read the same records
-- (tests/catalog/test_sqlite.py restores it into a file).
PRAGMA user_version = 1;
BEGIN TRANSACTION;
CREATE TABLE builds (
        fingerprint TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        path TEXT NOT NULL,
        status TEXT NOT NULL,
        started TEXT NOT NULL,
        finished TEXT,
        dataset_id TEXT,
        error TEXT
    );
INSERT INTO "builds" VALUES('ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff','ocr-test','ocr','/data/ocr-test','complete','2026-12-04T01:34:51+00:00','2026-12-04T01:34:51+00:00','0a1b000000000000000000000000000000000000000000000000000000000000',NULL);
INSERT INTO "builds" VALUES('0a1c000000000000000000000000000000000000000000000000000000000000','ocr-test-more','ocr','/data/ocr-test-more','complete','2026-12-04T01:34:51+00:00','2026-12-04T01:34:51+00:00','0a1c000000000000000000000000000000000000000000000000000000000000',NULL);
INSERT INTO "builds" VALUES('5e5e000000000000000000000000000000000000000000000000000000000000','speech-test','speech','/data/speech-test','complete','2026-12-04T01:34:51+00:00','2026-12-04T01:34:51+00:00','5e5e000000000000000000000000000000000000000000000000000000000000',NULL);
INSERT INTO "builds" VALUES('eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee','ocr-broken','ocr','/data/ocr-broken','failed','2026-12-04T01:34:51+00:00','2026-12-04T01:34:51+00:00',NULL,'fonts: no usable font');
CREATE TABLE dataset_inputs (
        dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        name TEXT NOT NULL,
        uri TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        licence TEXT NOT NULL,
        attribution TEXT NOT NULL DEFAULT '',
        personal_data INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (dataset_id, role, uri)
    );
INSERT INTO "dataset_inputs" VALUES('0a1b000000000000000000000000000000000000000000000000000000000000','font','DejaVuSans.ttf','asset:fonts/DejaVuSans.ttf','aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa','Bitstream-Vera','DejaVu fonts',0);
INSERT INTO "dataset_inputs" VALUES('0a1b000000000000000000000000000000000000000000000000000000000000','texts','lines.txt','file:///data/lines.txt','bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb','unknown','',1);
INSERT INTO "dataset_inputs" VALUES('0a1c000000000000000000000000000000000000000000000000000000000000','font','DejaVuSans.ttf','asset:fonts/DejaVuSans.ttf','aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa','Bitstream-Vera','DejaVu fonts',0);
INSERT INTO "dataset_inputs" VALUES('0a1c000000000000000000000000000000000000000000000000000000000000','texts','lines.txt','file:///data/lines.txt','bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb','unknown','',1);
INSERT INTO "dataset_inputs" VALUES('0a1c000000000000000000000000000000000000000000000000000000000000','dataset','ocr-test','synth:0a1b000000000000000000000000000000000000000000000000000000000000','cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc','OFL-1.1','',0);
CREATE TABLE datasets (
        id TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        path TEXT NOT NULL,
        status TEXT NOT NULL,
        created TEXT NOT NULL,
        count INTEGER NOT NULL,
        seed INTEGER NOT NULL,
        spec_json TEXT NOT NULL,
        code_version TEXT NOT NULL,
        statistics_json TEXT NOT NULL,
        trigger_type TEXT NOT NULL,
        trigger_json TEXT NOT NULL,
        flow_run_id TEXT,
        parent_id TEXT REFERENCES datasets(id),
        licences_json TEXT NOT NULL,
        personal_data INTEGER NOT NULL DEFAULT 0
    );
INSERT INTO "datasets" VALUES('0a1b000000000000000000000000000000000000000000000000000000000000','ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff','ocr-test','ocr','/data/ocr-test','complete','2025-03-01T10:00:00+00:00',12,7,'{"shard_size": 500, "text": {"source": "faker"}}','0.1.0','{"rejections": {"low_contrast_background": 3}, "samples": 12}','manual','{"type": "manual"}','00000000-0000-0000-0000-000000000001',NULL,'["OFL-1.1"]',1);
INSERT INTO "datasets" VALUES('0a1c000000000000000000000000000000000000000000000000000000000000','ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff','ocr-test-more','ocr','/data/ocr-test-more','complete','2025-03-02T11:30:00+00:00',24,9223372036854775807,'{"a": {"y": true, "z": "\u00e9"}, "b": [1, 2.5, null]}','0.1.0','{"rejections": {"low_contrast_background": 3}, "samples": 12}','diagnosis','{"payload": {"dataset": "0a1b000000000000000000000000000000000000000000000000000000000000", "variance": 0.12}, "type": "diagnosis"}','00000000-0000-0000-0000-000000000001','0a1b000000000000000000000000000000000000000000000000000000000000','["OFL-1.1", "CC0-1.0"]',1);
INSERT INTO "datasets" VALUES('5e5e000000000000000000000000000000000000000000000000000000000000','ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff','speech-test','speech','/data/speech-test','complete','2025-03-02T11:30:00+00:00',12,7,'{"shard_size": 500, "text": {"source": "faker"}}','0.1.0','{"rejections": {}, "samples": 3}','manual','{"type": "manual"}',NULL,NULL,'[]',0);
CREATE INDEX datasets_name ON datasets(name);
CREATE INDEX datasets_fingerprint ON datasets(fingerprint);
COMMIT;
