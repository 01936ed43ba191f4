import { raiseAlarm } from './ingest';
import type { Notifications } from './notify/event';
import type { Storage } from './storage/storage';

/** Devices one sweep raises alarms for at most; the next sweep takes the rest. */
const SWEEP_BATCH = 500;

/** How often startServer sweeps: a tenth of the silence allowed, between 5 seconds and a minute. */
export const sweepIntervalMs = (silentAfterMs: number): number => Math.min(60_000, Math.max(5_000, Math.floor(silentAfterMs / 10)));

/**
 * DEVICE_SILENT: raises one alarm for each device not revoked that the server has not heard from
 * (its last sync, else its enrolment) for longer than `silentAfterMs`. The silence's start is
 * the alarm's dedup key in the database (alarms_silent), so any number of sweeps, in any number
 * of server processes, raise one alarm per silence; a device that syncs again and falls silent
 * later raises a new one. Returns the ids raised.
 */
export async function sweepSilentDevices(
  storage: Storage,
  notifications: Notifications,
  silentAfterMs: number,
  now: number,
): Promise<number[]> {
  const raised: number[] = [];
  const silent = await storage.queries.silentDevices(now - silentAfterMs, SWEEP_BATCH);
  for (const device of silent) {
    const since = device.lastSeen ?? device.enrolledAt;
    const heard = device.lastSeen === null ? 'enrolled' : 'last synced';
    const id = await storage.transaction((tx) =>
      raiseAlarm(tx, notifications, {
        device: device.device,
        kind: 'DEVICE_SILENT',
        seq: device.headSeq,
        message: `device ${heard} at ${new Date(since).toISOString()} and not heard from since (silent for more than ${Math.round(silentAfterMs / 60_000)} minutes)`,
        evidence: JSON.stringify({
          lastSeen: device.lastSeen,
          enrolledAt: device.enrolledAt,
          silentSince: since,
          silentAfterMs,
          checkedAt: now,
        }),
        raisedAt: now,
        offeredHash: String(since),
      }),
    );
    if (id !== null) raised.push(id);
  }
  return raised;
}
