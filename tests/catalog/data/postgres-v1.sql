-- A PostgreSQL catalog written by schema 1's code (the same entries as catalog-v1.sql), dumped
-- with pg_dump --inserts --no-owner --no-privileges (psql's \restrict lines and comments left
-- out). Frozen: a later schema must still open it and read the same records
-- (tests/catalog/test_postgres.py restores it into a fresh database).
SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;
SET default_tablespace = '';
SET default_table_access_method = heap;
CREATE TABLE public.builds (
    fingerprint text NOT NULL COLLATE pg_catalog."C",
    name text NOT NULL,
    kind text NOT NULL,
    path text NOT NULL,
    status text NOT NULL,
    started text NOT NULL COLLATE pg_catalog."C",
    finished text,
    dataset_id text,
    error text
);
CREATE TABLE public.dataset_inputs (
    dataset_id text NOT NULL COLLATE pg_catalog."C",
    role text NOT NULL COLLATE pg_catalog."C",
    name text NOT NULL COLLATE pg_catalog."C",
    uri text NOT NULL COLLATE pg_catalog."C",
    sha256 text NOT NULL,
    licence text NOT NULL,
    attribution text DEFAULT ''::text NOT NULL,
    personal_data integer DEFAULT 0 NOT NULL
);
CREATE TABLE public.datasets (
    id text NOT NULL COLLATE pg_catalog."C",
    fingerprint text NOT NULL COLLATE pg_catalog."C",
    name text NOT NULL COLLATE pg_catalog."C",
    kind text NOT NULL COLLATE pg_catalog."C",
    path text NOT NULL,
    status text NOT NULL,
    created text NOT NULL COLLATE pg_catalog."C",
    count bigint NOT NULL,
    seed bigint NOT NULL,
    spec_json text NOT NULL,
    code_version text NOT NULL,
    statistics_json text NOT NULL,
    trigger_type text NOT NULL,
    trigger_json text NOT NULL,
    flow_run_id text,
    parent_id text COLLATE pg_catalog."C",
    licences_json text NOT NULL,
    personal_data integer DEFAULT 0 NOT NULL
);
CREATE TABLE public.schema_version (
    version integer NOT NULL,
    applied text NOT NULL
);
INSERT INTO public.builds VALUES ('ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff', 'ocr-test', 'ocr', '/data/ocr-test', 'complete', '2026-12-04T01:38:21+00:00', '2026-12-04T01:38:21+00:00', '0a1b000000000000000000000000000000000000000000000000000000000000', NULL);
INSERT INTO public.builds VALUES ('0a1c000000000000000000000000000000000000000000000000000000000000', 'ocr-test-more', 'ocr', '/data/ocr-test-more', 'complete', '2026-12-04T01:38:21+00:00', '2026-12-04T01:38:21+00:00', '0a1c000000000000000000000000000000000000000000000000000000000000', NULL);
INSERT INTO public.builds VALUES ('5e5e000000000000000000000000000000000000000000000000000000000000', 'speech-test', 'speech', '/data/speech-test', 'complete', '2026-12-04T01:38:21+00:00', '2026-12-04T01:38:21+00:00', '5e5e000000000000000000000000000000000000000000000000000000000000', NULL);
INSERT INTO public.builds VALUES ('eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee', 'ocr-broken', 'ocr', '/data/ocr-broken', 'failed', '2026-12-04T01:38:21+00:00', '2026-12-04T01:38:21+00:00', NULL, 'fonts: no usable font');
INSERT INTO public.dataset_inputs VALUES ('0a1b000000000000000000000000000000000000000000000000000000000000', 'font', 'DejaVuSans.ttf', 'asset:fonts/DejaVuSans.ttf', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'Bitstream-Vera', 'DejaVu fonts', 0);
INSERT INTO public.dataset_inputs VALUES ('0a1b000000000000000000000000000000000000000000000000000000000000', 'texts', 'lines.txt', 'file:///data/lines.txt', 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 'unknown', '', 1);
INSERT INTO public.dataset_inputs VALUES ('0a1c000000000000000000000000000000000000000000000000000000000000', 'font', 'DejaVuSans.ttf', 'asset:fonts/DejaVuSans.ttf', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'Bitstream-Vera', 'DejaVu fonts', 0);
INSERT INTO public.dataset_inputs VALUES ('0a1c000000000000000000000000000000000000000000000000000000000000', 'texts', 'lines.txt', 'file:///data/lines.txt', 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 'unknown', '', 1);
INSERT INTO public.dataset_inputs VALUES ('0a1c000000000000000000000000000000000000000000000000000000000000', 'dataset', 'ocr-test', 'synth:0a1b000000000000000000000000000000000000000000000000000000000000', 'cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc', 'OFL-1.1', '', 0);
INSERT INTO public.datasets VALUES ('0a1b000000000000000000000000000000000000000000000000000000000000', 'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff', 'ocr-test', 'ocr', '/data/ocr-test', 'complete', '2025-03-01T10:00:00+00:00', 12, 7, '{"shard_size": 500, "text": {"source": "faker"}}', '0.1.0', '{"rejections": {"low_contrast_background": 3}, "samples": 12}', 'manual', '{"type": "manual"}', '00000000-0000-0000-0000-000000000001', NULL, '["OFL-1.1"]', 1);
INSERT INTO public.datasets VALUES ('0a1c000000000000000000000000000000000000000000000000000000000000', 'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff', 'ocr-test-more', 'ocr', '/data/ocr-test-more', 'complete', '2025-03-02T11:30:00+00:00', 24, 9223372036854775807, '{"a": {"y": true, "z": "\u00e9"}, "b": [1, 2.5, null]}', '0.1.0', '{"rejections": {"low_contrast_background": 3}, "samples": 12}', 'diagnosis', '{"payload": {"dataset": "0a1b000000000000000000000000000000000000000000000000000000000000", "variance": 0.12}, "type": "diagnosis"}', '00000000-0000-0000-0000-000000000001', '0a1b000000000000000000000000000000000000000000000000000000000000', '["OFL-1.1", "CC0-1.0"]', 1);
INSERT INTO public.datasets VALUES ('5e5e000000000000000000000000000000000000000000000000000000000000', 'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff', 'speech-test', 'speech', '/data/speech-test', 'complete', '2025-03-02T11:30:00+00:00', 12, 7, '{"shard_size": 500, "text": {"source": "faker"}}', '0.1.0', '{"rejections": {}, "samples": 3}', 'manual', '{"type": "manual"}', NULL, NULL, '[]', 0);
INSERT INTO public.schema_version VALUES (1, '2026-12-04T01:38:21+00:00');
ALTER TABLE ONLY public.builds
    ADD CONSTRAINT builds_pkey PRIMARY KEY (fingerprint);
ALTER TABLE ONLY public.dataset_inputs
    ADD CONSTRAINT dataset_inputs_pkey PRIMARY KEY (dataset_id, role, uri);
ALTER TABLE ONLY public.datasets
    ADD CONSTRAINT datasets_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.schema_version
    ADD CONSTRAINT schema_version_pkey PRIMARY KEY (version);
CREATE INDEX datasets_fingerprint ON public.datasets USING btree (fingerprint);
CREATE INDEX datasets_name ON public.datasets USING btree (name);
ALTER TABLE ONLY public.dataset_inputs
    ADD CONSTRAINT dataset_inputs_dataset_id_fkey FOREIGN KEY (dataset_id) REFERENCES public.datasets(id) ON DELETE CASCADE;
ALTER TABLE ONLY public.datasets
    ADD CONSTRAINT datasets_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES public.datasets(id);
