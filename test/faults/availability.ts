import { cacheDir } from '../../src/host/paths.js';
import { guestHostAvailability } from '../../src/platforms/qemu/guest-image.js';

/** Why a qemu-tcg guest cannot run here ('' when it can): the fault cases on it are then skipped with the reason. */
export function tcgAvailability(): string {
  const availability = guestHostAvailability(cacheDir());
  return availability.available ? '' : availability.reason;
}
