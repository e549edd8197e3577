/*
 * Project-owned declaration of the HarmonyOS IAP Kit surface (`import { iap } from '@kit.IAPKit'`).
 *
 * IAP Kit is HarmonyOS-only and absent from the public OpenHarmony declarations, so the Node gate type-checks
 * against this file. Names, optionality and numeric enum values follow the IAP Kit reference
 * (iap-iap, iap-data-model, iap-error-code); see docs in README "IAP Kit surface". On a device the real
 * SDK declaration is used instead; this file must stay a faithful subset of it (nothing invented).
 * Written as .d.ts (not .d.ets) so the ArkTS linter does not lint the stand-in itself.
 */
import { common } from '@kit.AbilityKit';
import { AsyncCallback } from '@kit.BasicServicesKit';

declare namespace iap {
  /** @since 4.0.0(10) */
  export enum ProductType {
    CONSUMABLE = 0,
    NONCONSUMABLE = 1,
    /** @since 4.1.0(11) */
    AUTORENEWABLE = 2,
    /** @since 5.0.2(14); not supported on Wearable. */
    NONRENEWABLE = 3
  }

  /** @since 4.1.0(11). Always set explicitly: the documented default has conflicted between versions. */
  export enum PurchaseQueryType {
    ALL = 0,
    UNFINISHED = 1,
    CURRENT_ENTITLEMENT = 2
  }

  /** @since 4.1.0(11) */
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
    /** @since 5.0.0(12) */
    APP_NOT_DEBUG = 1001860057,
    /** @since 5.0.0(12) */
    ACCOUNT_NOT_TEST = 1001860058,
    /** @since 5.0.0(12) */
    INVALID_PROMOTIONAL_OFFER = 1001860059,
    /** @since 5.0.0(12) */
    INVALID_PURCHASE_SIGNATURE = 1001860060,
    /** @since 5.0.3(15) */
    PURCHASE_ALREADY_REFUNDED = 1001860061,
    /** @since 5.0.3(15) */
    REFUND_NOT_ALLOWED = 1001860062,
    /** @since 6.1.0(23) */
    PURCHASE_NOT_FOUND = 1001860064,
    /** @since 6.1.0(23) */
    OPERATION_NOT_SUPPORTED = 1001860065
  }

  /** @since 4.1.0(11) */
  export enum PeriodUnit {
    DAY = 0,
    WEEK = 1,
    MONTH = 2,
    YEAR = 3,
    /** Reserved, not supported. */
    MINUTE = 4
  }

  /** @since 4.1.0(11) */
  export enum OfferPaymentMode {
    FREE_TRIAL = 1,
    PAY_AS_YOU_GO = 2,
    PAY_UP_FRONT = 3,
    /** @since 5.0.5(17) */
    SINGLE_PROMOTION = 5
  }

  /** @since 4.1.0(11) */
  export enum OfferType {
    INTRODUCTORY = 0,
    PROMOTIONAL = 1
  }

  /** @since 5.0.0(12) */
  export enum WindowScreenMode {
    DIALOG_BOX = 1,
    FULLSCREEN = 2
  }

  /** @since 5.0.0(12) */
  export enum ProductStatus {
    VALID = 0,
    CANCELED = 1,
    OFFLINE = 3
  }

  /** @since 4.0.0(10) */
  export interface QueryProductsParameter {
    productType: ProductType;
    /** At most 200 ids, one product type per call. */
    productIds: string[];
  }

  /** @since 4.1.0(11) */
  export interface SubscriptionOffer {
    paymentMode: OfferPaymentMode;
    periodUnit: PeriodUnit;
    periodCount: number;
    localPrice: string;
    microPrice: number;
    offerType: OfferType;
  }

  /** @since 4.1.0(11) */
  export interface SubscriptionInfo {
    periodUnit: PeriodUnit;
    periodCount: number;
    groupId: string;
    groupLevel: number;
    hasEligibilityForIntroOffer?: boolean;
    introductoryOffer?: SubscriptionOffer;
  }

  /** @since 5.0.0(12) */
  export interface PromotionalOffer {
    offerId: string;
    paymentMode: OfferPaymentMode;
    periodUnit?: PeriodUnit;
    periodCount?: number;
    localPrice: string;
    microPrice: number;
  }

  /** @since 4.0.0(10) */
  export interface Product {
    id: string;
    type: ProductType;
    name: string;
    description: string;
    /** @deprecated since 4.1.0(11); use localPrice. */
    price: string;
    /** @since 4.1.0(11). Display price including currency. */
    localPrice?: string;
    /** Price × 1,000,000. */
    microPrice: number;
    originalLocalPrice: string;
    originalMicroPrice: number;
    currency: string;
    /** @since 5.0.0(12) */
    status?: ProductStatus;
    /** @since 4.1.0(11) */
    subscriptionInfo?: SubscriptionInfo;
    /** @since 5.0.0(12) */
    promotionalOffers?: PromotionalOffer[];
    /** @since 4.1.0(11) */
    jsonRepresentation?: string;
  }

  /** @since 4.0.0(10) */
  export interface PurchaseParameter {
    productId: string;
    productType: ProductType;
    /** 0–256 characters; longer values are silently truncated. */
    developerPayload?: string;
    reservedInfo?: string;
    /** @since 5.0.0(12) */
    promotionalOfferId?: string;
    /** @since 5.0.0(12) */
    applicationUserName?: string;
    /** @since 5.0.0(12) */
    jwsRepresentation?: string;
    /** @since 5.0.3(15). 1–10, consumables and non-renewables only. */
    quantity?: number;
  }

  /** @since 4.1.0(11) */
  export interface CreatePurchaseResult {
    /** A JSON string of PurchaseData. */
    purchaseData: string;
  }

  /** @since 4.1.0(11) */
  export interface FinishPurchaseParameter {
    /** A number: convert the payload's string productType with Number(...). */
    productType: ProductType;
    purchaseToken: string;
    /** At most 256 characters. */
    purchaseOrderId: string;
  }

  /** @since 4.0.0(10) */
  export interface QueryPurchasesParameter {
    productType: ProductType;
    /** Omit on the first call; repeat with the returned token until none comes back. */
    continuationToken?: string;
    /** @since 4.1.0(11) */
    queryType?: PurchaseQueryType;
  }

  /** @since 4.1.0(11) */
  export interface QueryPurchaseResult {
    /** Each item is a PurchaseData JSON string. */
    purchaseDataList: string[];
    continuationToken?: string;
  }

  /** @since 5.0.0(12) */
  export interface UIWindowParameter {
    windowScreenMode: WindowScreenMode;
  }

  /** @since 4.0.0(10) (context type common.Context from 4.1.0(11)) */
  export function queryEnvironmentStatus(context: common.Context): Promise<void>;
  export function queryEnvironmentStatus(context: common.Context, callback: AsyncCallback<void>): void;

  /** @since 4.0.0(10) */
  export function queryProducts(context: common.UIAbilityContext, parameter: QueryProductsParameter): Promise<Array<Product>>;
  export function queryProducts(context: common.UIAbilityContext, parameter: QueryProductsParameter,
    callback: AsyncCallback<Array<Product>>): void;

  /** @since 4.1.0(11) */
  export function createPurchase(context: common.UIAbilityContext, parameter: PurchaseParameter): Promise<CreatePurchaseResult>;
  export function createPurchase(context: common.UIAbilityContext, parameter: PurchaseParameter,
    callback: AsyncCallback<CreatePurchaseResult>): void;

  /** @since 4.1.0(11) */
  export function finishPurchase(context: common.UIAbilityContext, parameter: FinishPurchaseParameter): Promise<void>;
  export function finishPurchase(context: common.UIAbilityContext, parameter: FinishPurchaseParameter,
    callback: AsyncCallback<void>): void;

  /** @since 4.1.0(11) */
  export function queryPurchases(context: common.UIAbilityContext, parameter: QueryPurchasesParameter): Promise<QueryPurchaseResult>;
  export function queryPurchases(context: common.UIAbilityContext, parameter: QueryPurchasesParameter,
    callback: AsyncCallback<QueryPurchaseResult>): void;

  /** @since 5.0.0(12) */
  export function showManagedSubscriptions(context: common.Context, uiParameter: UIWindowParameter, groupId?: string): Promise<void>;

  /** @since 5.0.0(12). Rejects with APP_NOT_DEBUG / ACCOUNT_NOT_TEST to say why sandbox is not active. */
  export function isSandboxActivated(context: common.Context): Promise<boolean>;

  /** @since 5.0.3(15). Non-game apps only; purchaseOrderId at most 256 characters. */
  export function createRefundRequest(context: common.Context, purchaseOrderId: string): Promise<void>;
}

export { iap };
