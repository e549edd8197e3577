import * as os from 'node:os';
// Node stand-in for @kit.BasicServicesKit: the error shape that kit APIs reject with, and systemDateTime's clocks.
export class BusinessError<T = void> extends Error {
  code: number;
  data?: T;

  constructor(code: number, message: string, data?: T) {
    super(message);
    this.name = 'BusinessError';
    this.code = code;
    this.data = data;
  }
}

export type AsyncCallback<T> = (err: BusinessError | null, data?: T) => void;

/**
 * `deviceInfo` (@ohos.deviceInfo): the API level of the device. Node stands in for a 5.0.3(15) device, the first
 * level with every IAP Kit feature the simulator models (NONRENEWABLE 5.0.2(14), batch quantity 5.0.3(15));
 * adapters that depend on the level take it as a constructor argument so tests can be an older device.
 * distributionOSApiVersion encodes M.F.S as M*10000 + F*100 + S for HarmonyOS `since M.F.S(N)` APIs.
 */
export const deviceInfo = {
  sdkApiVersion: 15,
  distributionOSApiVersion: 50003,
} as const;

// systemDateTime: the clock functions the project uses. Modelled on @ohos.systemDateTime (API reference
// "js-apis-date-time": getUptime(timeType, isNanoseconds?) returns the time since boot, STARTUP including deep
// sleep, ACTIVE excluding it; a wrong timeType is BusinessError 401). Node cannot tell deep sleep apart, so both
// types read the process's monotonic clock offset to the host's uptime: it never goes back and a change of the
// date does not move it, which is what the device guarantees.
const BOOT_OFFSET_MS = Math.round(os.uptime() * 1000 - performance.now());

// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace systemDateTime {
  export enum TimeType {
    STARTUP = 0,
    ACTIVE = 1,
  }

  export function getUptime(timeType: TimeType, isNanoseconds?: boolean): number {
    if (timeType !== TimeType.STARTUP && timeType !== TimeType.ACTIVE) {
      throw new BusinessError(401, 'Parameter error. The type of "timeType" must be TimeType.STARTUP or ACTIVE.');
    }
    const ms = BOOT_OFFSET_MS + performance.now();
    return isNanoseconds === true ? Math.round(ms * 1e6) : Math.floor(ms);
  }

  /** Wall time, UTC ms (or ns). */
  export function getTime(isNanoseconds?: boolean): number {
    const ms = Date.now();
    return isNanoseconds === true ? ms * 1e6 : ms;
  }
}
