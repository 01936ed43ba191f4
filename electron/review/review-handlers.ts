import type { reviewChannels } from '../../shared/api/channels/review';
import type { Handler } from '../app/router';
import type { ReviewService } from './review-service';

type ReviewChannel = keyof typeof reviewChannels;

/** `review:*`: thin over ReviewService; the router has validated every request already. */
export function reviewHandlers(review: ReviewService): { [C in ReviewChannel]: Handler<C> } {
  return {
    'review:export': async ({ by, out }) => {
      const { report, ...rest } = await review.exportOrgWide(by, out);
      // The report's arrays are read-only; the response schema's are plain.
      return {
        ...rest,
        report: { ...report, devices: report.devices.map((d) => ({ ...d, failures: [...d.failures] })), failures: [...report.failures] },
      };
    },
    'review:incidents': async ({ by, ...view }) => {
      const { items, ...rest } = await review.incidents(by, view);
      return { ...rest, incidents: items };
    },
    'review:alarms': async ({ by, ...view }) => {
      const { items, ...rest } = await review.alarms(by, view);
      return { ...rest, alarms: items };
    },
    'review:acknowledge': async ({ by, ...request }) => review.acknowledge(by, request),
  };
}
