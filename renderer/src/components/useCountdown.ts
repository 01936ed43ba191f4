import { useEffect, useRef, useState } from 'react';
import { msUntil } from '../api/call';

/**
 * Whole seconds left until `deadline` (epoch ms), re-rendered every quarter second; null when
 * there is no deadline. Calls `onEnd` once when the time is up.
 */
export function useCountdown(deadline: number | null, onEnd: () => void): number | null {
  const [now, setNow] = useState(() => Date.now());
  // The latest onEnd, so a new closure on each render does not restart the timer.
  const end = useRef(onEnd);
  end.current = onEnd;
  useEffect(() => {
    if (deadline === null) return;
    setNow(Date.now());
    const timer = window.setInterval(() => {
      const current = Date.now();
      setNow(current);
      if (current >= deadline) {
        window.clearInterval(timer);
        end.current();
      }
    }, 250);
    return () => window.clearInterval(timer);
  }, [deadline]);
  return deadline === null ? null : Math.ceil(msUntil(deadline, now) / 1000);
}
