// Node stand-in for @kit.BasicServicesKit: only the error shape that kit APIs reject with.
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
