#!/usr/bin/env node
// chotdon's reference TikTok LIVE bridge: reads a live with TikTok-Live-Connector (pinned in
// package.json, 2.4.3) and POSTs its chat, viewer counts, deletions and end to chotdon's TikTok
// listener (`chotdon ingest tiktok --listen ...` or `chotdon run --source tiktok:listen`).
//
//   npm ci && node bridge.mjs TIKTOK_USERNAME
//
// Environment: CHOTDON_TIKTOK_URL (default http://127.0.0.1:8091), TIKTOK_BRIDGE_TOKEN (the
// same token chotdon was given, if any), TIKTOK_SIGN_API_KEY (optional Euler Stream key, passed
// to the connector as `signApiKey`), CHOTDON_BRIDGE_REPLAY (a JSON Lines file of
// {"event", "data"} lines replayed instead of connecting to TikTok: tests, demos).
//
// Events are forwarded as the connector emits them ({"event": NAME, "data": DATA}); chotdon
// reads every generation of their shapes. Delivery is at least once: a batch is re-sent until
// chotdon answers (202, or 400 for items it will never read); chotdon drops the repeats by msgId.
// The connector replays the recent chat on every (re)connect (processInitialData): chotdon drops
// that too. When the connection drops before the live ends, the bridge reconnects with backoff.
// SIGTERM / Ctrl-C: what was received is delivered, then the bridge exits.
//
// Source: github.com/zerodytrash/TikTok-Live-Connector v2.4.3, README.md (TikTokLiveConnection,
// WebcastEvent, ControlEvent) and src/lib/client/index.ts (streamEnd on ControlAction 3 or 4,
// followed by a disconnect).

import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export const FORWARDED = ['chat', 'roomUser', 'imDelete', 'streamEnd'];
const MAX_BATCH = 500; // events per POST; chotdon accepts up to 5,000
const MAX_QUEUE = 50_000; // events waiting while chotdon is unreachable: the oldest chat goes
const BACKOFF_CAP_MS = 30_000;

// Forward the FORWARDED events of `source` (an EventEmitter) to chotdon, in order.
// Returns { flush(): Promise, ended: Promise } - `ended` settles after streamEnd is delivered.
export function forward(source, { url, token, log = console.error }) {
    const queue = [];
    let wake = null;
    let stopping = false;
    let endedResolve;
    const ended = new Promise((resolve) => { endedResolve = resolve; });
    for (const name of FORWARDED) {
        source.on(name, (data) => {
            queue.push({ event: name, data });
            if (queue.length > MAX_QUEUE) {
                queue.shift();
                log('chotdon is unreachable for long: dropped the oldest waiting event');
            }
            if (wake) wake();
        });
    }
    const headers = { 'Content-Type': 'application/json' };
    if (token) headers.Authorization = `Bearer ${token}`;

    async function post(batch) {
        for (let attempt = 0; ; attempt += 1) {
            try {
                const response = await fetch(`${url}/events`, {
                    method: 'POST', headers, body: JSON.stringify(batch),
                });
                const answer = await response.json().catch(() => ({}));
                if (response.status === 202) return;
                if (response.status === 400) { // chotdon kept the rest; these will never read
                    log(`chotdon rejected ${JSON.stringify(answer.rejected ?? answer.error)}`);
                    return;
                }
                if (response.status === 401 || response.status === 403) {
                    throw new Error(`chotdon refused the bridge (${response.status}): check TIKTOK_BRIDGE_TOKEN`);
                }
                log(`chotdon answered ${response.status}; retrying`);
            } catch (error) {
                if (String(error.message).startsWith('chotdon refused')) throw error;
                log(`cannot reach chotdon (${error.cause?.code ?? error.message}); retrying`);
            }
            await sleep(Math.min(BACKOFF_CAP_MS, 250 * 2 ** attempt) * Math.random());
        }
    }

    const loop = (async () => {
        for (;;) {
            if (queue.length === 0) {
                if (stopping) return;
                await new Promise((resolve) => { wake = resolve; });
                wake = null;
                continue;
            }
            const batch = queue.splice(0, MAX_BATCH);
            await post(batch);
            if (batch.some((item) => item.event === 'streamEnd')) {
                endedResolve();
                return;
            }
        }
    })();
    return {
        ended,
        done: loop,
        async flush() {
            stopping = true;
            if (wake) wake();
            await loop;
        },
    };
}

// A fake live: the events of a JSON Lines file, emitted in order.
async function replay(path) {
    const source = new EventEmitter();
    const lines = (await readFile(path, 'utf8')).split('\n').filter((line) => line.trim());
    setImmediate(() => {
        for (const line of lines) {
            const { event, data } = JSON.parse(line);
            source.emit(event, data);
        }
    });
    return { source, stop: async () => {} };
}

// The real live, reconnecting until it ends.
async function live(uniqueId, log) {
    const { TikTokLiveConnection, ControlEvent } = await import('tiktok-live-connector');
    const options = { processInitialData: true };
    if (process.env.TIKTOK_SIGN_API_KEY) options.signApiKey = process.env.TIKTOK_SIGN_API_KEY;
    const connection = new TikTokLiveConnection(uniqueId, options);
    let over = false;
    connection.on('streamEnd', () => { over = true; });
    const connect = async () => {
        for (let attempt = 0; !over; attempt += 1) {
            try {
                const state = await connection.connect();
                log(`connected to room ${state.roomId}`);
                return;
            } catch (error) {
                const wait = Math.min(BACKOFF_CAP_MS, 1000 * 2 ** attempt);
                log(`cannot connect (${error.message}); retrying in ${wait / 1000}s`);
                await sleep(wait);
            }
        }
    };
    connection.on(ControlEvent.DISCONNECTED, () => {
        if (!over) {
            log('disconnected before the live ended: reconnecting');
            connect();
        }
    });
    await connect();
    return { source: connection, stop: async () => { over = true; await connection.disconnect(); } };
}

async function main() {
    const log = (message) => console.error(`chotdon-tiktok-bridge: ${message}`);
    const url = (process.env.CHOTDON_TIKTOK_URL || 'http://127.0.0.1:8091').replace(/\/$/, '');
    const replayPath = process.env.CHOTDON_BRIDGE_REPLAY;
    const uniqueId = process.argv[2];
    if (!replayPath && !uniqueId) {
        log('usage: node bridge.mjs TIKTOK_USERNAME (or set CHOTDON_BRIDGE_REPLAY=events.jsonl)');
        process.exit(2);
    }
    const { source, stop } = replayPath ? await replay(replayPath) : await live(uniqueId, log);
    const forwarding = forward(source, { url, token: process.env.TIKTOK_BRIDGE_TOKEN, log });
    const shutdown = async () => {
        await stop();
        await forwarding.flush();
        process.exit(0);
    };
    process.on('SIGTERM', shutdown);
    process.on('SIGINT', shutdown);
    try {
        await Promise.race([forwarding.ended, forwarding.done]);
    } catch (error) {
        log(error.message);
        process.exit(78);
    }
    log('the live ended');
    await stop();
    process.exit(0);
}

if (import.meta.url === `file://${process.argv[1]}`) {
    main();
}
