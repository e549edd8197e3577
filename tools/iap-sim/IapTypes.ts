// The IAP Kit surface as Node TypeScript: a mirror of types/kits/@kit.IAPKit.d.ts (the project's declaration of
// `@kit.IAPKit`). The enums are real runtime objects because ArkTS code reads `iap.ProductType.CONSUMABLE` etc.
// Names and numeric values must match the declaration exactly; IapKit.test.ts compares them.

export enum ProductType {
  CONSUMABLE = 0,
  NONCONSUMABLE = 1,
  AUTORENEWABLE = 2,
  NONRENEWABLE = 3,
}

export enum PurchaseQueryType {
  ALL = 0,
  UNFINISHED = 1,
  CURRENT_ENTITLEMENT = 2,
}

export enum IAPErrorCode {
  USER_CANCELED = 1001860000,
  SYSTEM_ERROR = 1001860001,
  APP_NOT_AUTHORIZED = 1001860002,
  INVALID_PRODUCT = 1001860003,
  FREQUENT_CALLS = 1001860004,
  NETWORK_ERROR = 1001860005,
  PRODUCT_TERRITORY_NOT_SUPPORTED = 1001860007,
  ACCOUNT_NOT_LOGGED_IN = 1001860050,
  PRODUCT_OWNED = 1001860051,
  PURCHASE_NOT_PAID = 1001860052,
  PURCHASE_FINISHED = 1001860053,
  ACCOUNT_TERRITORY_NOT_SUPPORTED = 1001860054,
  USER_NOT_ALLOWED = 1001860056,
  APP_NOT_DEBUG = 1001860057,
  ACCOUNT_NOT_TEST = 1001860058,
  INVALID_PROMOTIONAL_OFFER = 1001860059,
  INVALID_PURCHASE_SIGNATURE = 1001860060,
  PURCHASE_ALREADY_REFUNDED = 1001860061,
  REFUND_NOT_ALLOWED = 1001860062,
  PURCHASE_NOT_FOUND = 1001860064,
  OPERATION_NOT_SUPPORTED = 1001860065,
}

export enum PeriodUnit {
  DAY = 0,
  WEEK = 1,
  MONTH = 2,
  YEAR = 3,
  MINUTE = 4,
}

export enum OfferPaymentMode {
  FREE_TRIAL = 1,
  PAY_AS_YOU_GO = 2,
  PAY_UP_FRONT = 3,
  SINGLE_PROMOTION = 5,
}

export enum OfferType {
  INTRODUCTORY = 0,
  PROMOTIONAL = 1,
}

export enum WindowScreenMode {
  DIALOG_BOX = 1,
  FULLSCREEN = 2,
}

export enum ProductStatus {
  VALID = 0,
  CANCELED = 1,
  OFFLINE = 3,
}

/** The generic "parameter error" every kit API may throw. */
export const PARAMETER_ERROR = 401;

export interface QueryProductsParameter {
  productType: ProductType;
  productIds: string[];
}

export interface SubscriptionOffer {
  paymentMode: OfferPaymentMode;
  periodUnit: PeriodUnit;
  periodCount: number;
  localPrice: string;
  microPrice: number;
  offerType: OfferType;
}

export interface SubscriptionInfo {
  periodUnit: PeriodUnit;
  periodCount: number;
  groupId: string;
  groupLevel: number;
  hasEligibilityForIntroOffer?: boolean;
  introductoryOffer?: SubscriptionOffer;
}

export interface Product {
  id: string;
  type: ProductType;
  name: string;
  description: string;
  price: string;
  localPrice?: string;
  microPrice: number;
  originalLocalPrice: string;
  originalMicroPrice: number;
  currency: string;
  status?: ProductStatus;
  subscriptionInfo?: SubscriptionInfo;
  jsonRepresentation?: string;
}

export interface PurchaseParameter {
  productId: string;
  productType: ProductType;
  developerPayload?: string;
  reservedInfo?: string;
  promotionalOfferId?: string;
  applicationUserName?: string;
  jwsRepresentation?: string;
  quantity?: number;
}

export interface CreatePurchaseResult {
  purchaseData: string;
}

export interface FinishPurchaseParameter {
  productType: ProductType;
  purchaseToken: string;
  purchaseOrderId: string;
}

export interface QueryPurchasesParameter {
  productType: ProductType;
  continuationToken?: string;
  queryType?: PurchaseQueryType;
}

export interface QueryPurchaseResult {
  purchaseDataList: string[];
  continuationToken?: string;
}

export interface UIWindowParameter {
  windowScreenMode: WindowScreenMode;
}

/** The JWS payload of `jwsPurchaseOrder` (IAP Kit data model; the same model client and server side). */
export interface PurchaseOrderPayload {
  environment: string;
  purchaseOrderId: string;
  purchaseToken: string;
  applicationId: string;
  productId: string;
  productType: string;
  purchaseTime?: number;
  signedTime: number;
  quantity?: number;
  finishStatus?: string;
  needFinish?: boolean;
  price?: number;
  currency?: string;
  countryCode?: string;
  developerPayload?: string;
  purchaseOrderRevocationReasonCode?: string;
  revocationTime?: number;
  subGroupGenerationId?: string;
  subscriptionId?: string;
  subGroupId?: string;
  duration?: string;
  durationTypeCode?: string;
}

export interface SubRenewalInfo {
  environment: string;
  subGroupGenerationId: string;
  productId: string;
  autoRenewStatusCode: string;
  hasInBillingRetryPeriod: boolean;
  renewalPrice?: number;
  currency?: string;
  renewalTime?: number;
  expirationIntent?: string;
}

export interface SubscriptionStatus {
  subGroupGenerationId: string;
  subscriptionId: string;
  purchaseToken: string;
  status: string;
  expiresTime: number;
  lastPurchaseOrder?: PurchaseOrderPayload;
  recentPurchaseOrderList?: PurchaseOrderPayload[];
  renewalInfo?: SubRenewalInfo;
}

/** The JWS payload of `jwsSubscriptionStatus`. */
export interface SubGroupStatusPayload {
  environment: string;
  applicationId: string;
  packageName: string;
  subGroupId: string;
  /** UTC ms the status was signed (the certificates are checked at it). */
  signedTime: number;
  lastSubscriptionStatus?: SubscriptionStatus;
  historySubscriptionStatusList?: SubscriptionStatus[];
}

/** The parsed `purchaseData` string. */
export interface PurchaseData {
  type: number;
  jwsPurchaseOrder?: string;
  jwsSubscriptionStatus?: string;
}
