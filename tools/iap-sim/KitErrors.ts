// The BusinessErrors the simulated kit answers with: IAP Kit codes with messages in the kit's style.
import { BusinessError } from '../node-kits/BasicServicesKit';
import { IAPErrorCode, PARAMETER_ERROR } from './IapTypes';

const DEFAULT_MESSAGES: Readonly<Record<number, string>> = {
  [IAPErrorCode.USER_CANCELED]: 'The user canceled the operation.',
  [IAPErrorCode.SYSTEM_ERROR]: 'System internal error.',
  [IAPErrorCode.APP_NOT_AUTHORIZED]: 'The app is not authorized.',
  [IAPErrorCode.INVALID_PRODUCT]: 'Invalid product information.',
  [IAPErrorCode.FREQUENT_CALLS]: 'The API is called too frequently.',
  [IAPErrorCode.NETWORK_ERROR]: 'Network connection error.',
  [IAPErrorCode.PRODUCT_TERRITORY_NOT_SUPPORTED]: 'The app is not released in the country or region.',
  [IAPErrorCode.ACCOUNT_NOT_LOGGED_IN]: 'No HUAWEI ID is signed in.',
  [IAPErrorCode.PRODUCT_OWNED]: 'The product is already owned.',
  [IAPErrorCode.PURCHASE_NOT_PAID]: 'The order has not been paid.',
  [IAPErrorCode.PURCHASE_FINISHED]: 'The purchase has been finished.',
  [IAPErrorCode.ACCOUNT_TERRITORY_NOT_SUPPORTED]: 'The country or region of the signed-in account is not supported.',
  [IAPErrorCode.USER_NOT_ALLOWED]: 'The user is not allowed to make the purchase.',
  [IAPErrorCode.APP_NOT_DEBUG]: 'The app is not a debug-signed app.',
  [IAPErrorCode.ACCOUNT_NOT_TEST]: 'The account is not a sandbox test account.',
  [IAPErrorCode.INVALID_PROMOTIONAL_OFFER]: 'Invalid promotional offer.',
  [IAPErrorCode.INVALID_PURCHASE_SIGNATURE]: 'Invalid purchase signature.',
  [IAPErrorCode.PURCHASE_ALREADY_REFUNDED]: 'The order has been refunded or a refund is in progress.',
  [IAPErrorCode.REFUND_NOT_ALLOWED]: 'Refund is not allowed for the order.',
  [IAPErrorCode.PURCHASE_NOT_FOUND]: 'The order does not exist.',
  [IAPErrorCode.OPERATION_NOT_SUPPORTED]: 'The operation is not supported.',
  [PARAMETER_ERROR]: 'Parameter error.',
};

export function kitError(code: number, detail?: string): BusinessError {
  const base = DEFAULT_MESSAGES[code] ?? `Error ${code}.`;
  return new BusinessError(code, detail ? `${base} ${detail}` : base);
}

export function parameterError(detail: string): BusinessError {
  return kitError(PARAMETER_ERROR, detail);
}
