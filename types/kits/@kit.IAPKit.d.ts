/*
 * Project-owned declaration of the HarmonyOS IAP Kit surface (`import { iap } from '@kit.IAPKit'`).
 *
 * IAP Kit is HarmonyOS-only and absent from the public OpenHarmony declarations, so the Node gate type-checks
 * against this file. Names, optionality and numeric enum values follow the IAP Kit reference
 * (iap-iap, iap-data-model, iap-error-code); see docs in README "IAP Kit surface". On a device the real
 * SDK declaration is used instead; this file must stay a faithful subset of it (nothing invented).
 * Written as .d.ts (not .d.ets) so the ArkTS linter does not lint the stand-in itself.
 *
 * Every declaration carries the `@since` of the IAP Kit reference (Huawei's `M.F.S(API)` format), the first level
 * at which a device has it; `npm run check` reads these tags and rejects a use above compatibleSdkVersion that no
 * runtime check guards (README "API levels"). Members the 5.0.0(12) SDK declaration lacks although the reference
 * dates them 5.0.0(12) (PurchaseParameter.promotionalOfferId/applicationUserName/jwsRepresentation,
 * Product.promotionalOffers, PromotionalOffer, IAPErrorCode 1001860059/60) keep the reference's 5.0.0(12): a device
 * at that level can return or accept them. The project names none of them, so it also compiles with that snapshot.
 */
import { common } from '@kit.AbilityKit';
import { AsyncCallback } from '@kit.BasicServicesKit';

declare namespace iap {
  /** @since 4.0.0(10) */
  export enum ProductType {
    /** @since 4.0.0(10) */
    CONSUMABLE = 0,
    /** @since 4.0.0(10) */
    NONCONSUMABLE = 1,
    /** @since 4.1.0(11) */
    AUTORENEWABLE = 2,
    /** @since 5.0.2(14); not supported on Wearable. */
    NONRENEWABLE = 3
  }

  /** @since 4.1.0(11). Always set explicitly: the documented default has conflicted between versions. */
  export enum PurchaseQueryType {
    /** @since 4.1.0(11) */
    ALL = 0,
    /** @since 4.1.0(11) */
    UNFINISHED = 1,
    /** @since 4.1.0(11) */
    CURRENT_ENTITLEMENT = 2
  }

  /** @since 4.1.0(11) */
  export enum IAPErrorCode {
    /** @since 4.1.0(11) */
    USER_CANCELED = 1001860000,
    /** @since 4.1.0(11) */
    SYSTEM_ERROR = 1001860001,
    /** @since 4.1.0(11) */
    APP_NOT_AUTHORIZED = 1001860002,
    /** @since 4.1.0(11) */
    INVALID_PRODUCT = 1001860003,
    /** @since 4.1.0(11) */
    FREQUENT_CALLS = 1001860004,
    /** @since 4.1.0(11) */
    NETWORK_ERROR = 1001860005,
    /** @since 4.1.0(11) */
    PRODUCT_TERRITORY_NOT_SUPPORTED = 1001860007,
    /** @since 4.1.0(11) */
    ACCOUNT_NOT_LOGGED_IN = 1001860050,
    /** @since 4.1.0(11) */
    PRODUCT_OWNED = 1001860051,
    /** @since 4.1.0(11) */
    PURCHASE_NOT_PAID = 1001860052,
    /** @since 4.1.0(11) */
    PURCHASE_FINISHED = 1001860053,
    /** @since 4.1.0(11) */
    ACCOUNT_TERRITORY_NOT_SUPPORTED = 1001860054,
    /** @since 4.1.0(11) */
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
    /** @since 4.1.0(11) */
    DAY = 0,
    /** @since 4.1.0(11) */
    WEEK = 1,
    /** @since 4.1.0(11) */
    MONTH = 2,
    /** @since 4.1.0(11) */
    YEAR = 3,
    /** @since 4.1.0(11). Reserved, not supported. */
    MINUTE = 4
  }

  /** @since 4.1.0(11) */
  export enum OfferPaymentMode {
    /** @since 4.1.0(11) */
    FREE_TRIAL = 1,
    /** @since 4.1.0(11) */
    PAY_AS_YOU_GO = 2,
    /** @since 4.1.0(11) */
    PAY_UP_FRONT = 3,
    /** @since 5.0.5(17) */
    SINGLE_PROMOTION = 5
  }

  /** @since 4.1.0(11) */
  export enum OfferType {
    /** @since 4.1.0(11) */
    INTRODUCTORY = 0,
    /** @since 4.1.0(11) */
    PROMOTIONAL = 1
  }

  /** @since 5.0.0(12) */
  export enum WindowScreenMode {
    /** @since 5.0.0(12) */
    DIALOG_BOX = 1,
    /** @since 5.0.0(12) */
    FULLSCREEN = 2
  }

  /** @since 5.0.0(12) */
  export enum ProductStatus {
    /** @since 5.0.0(12) */
    VALID = 0,
    /** @since 5.0.0(12) */
    CANCELED = 1,
    /** @since 5.0.0(12) */
    OFFLINE = 3
  }

  /** @since 4.0.0(10) */
  export interface QueryProductsParameter {
    /** @since 4.0.0(10) */
    productType: ProductType;
    /** @since 4.0.0(10). At most 200 ids, one product type per call. */
    productIds: string[];
  }

  /** @since 4.1.0(11) */
  export interface SubscriptionOffer {
    /** @since 4.1.0(11) */
    paymentMode: OfferPaymentMode;
    /** @since 4.1.0(11) */
    periodUnit: PeriodUnit;
    /** @since 4.1.0(11) */
    periodCount: number;
    /** @since 4.1.0(11) */
    localPrice: string;
    /** @since 4.1.0(11) */
    microPrice: number;
    /** @since 4.1.0(11) */
    offerType: OfferType;
  }

  /** @since 4.1.0(11) */
  export interface SubscriptionInfo {
    /** @since 4.1.0(11) */
    periodUnit: PeriodUnit;
    /** @since 4.1.0(11) */
    periodCount: number;
    /** @since 4.1.0(11) */
    groupId: string;
    /** @since 4.1.0(11) */
    groupLevel: number;
    /** @since 4.1.0(11) */
    hasEligibilityForIntroOffer?: boolean;
    /** @since 4.1.0(11) */
    introductoryOffer?: SubscriptionOffer;
  }

  /** @since 5.0.0(12) */
  export interface PromotionalOffer {
    /** @since 5.0.0(12) */
    offerId: string;
    /** @since 5.0.0(12) */
    paymentMode: OfferPaymentMode;
    /** @since 5.0.0(12) */
    periodUnit?: PeriodUnit;
    /** @since 5.0.0(12) */
    periodCount?: number;
    /** @since 5.0.0(12) */
    localPrice: string;
    /** @since 5.0.0(12) */
    microPrice: number;
  }

  /** @since 4.0.0(10) */
  export interface Product {
    /** @since 4.0.0(10) */
    id: string;
    /** @since 4.0.0(10) */
    type: ProductType;
    /** @since 4.0.0(10) */
    name: string;
    /** @since 4.0.0(10) */
    description: string;
    /** @since 4.0.0(10). @deprecated since 4.1.0(11); use localPrice. */
    price: string;
    /** @since 4.1.0(11). Display price including currency. */
    localPrice?: string;
    /** @since 4.0.0(10). Price × 1,000,000. */
    microPrice: number;
    /** @since 4.0.0(10) */
    originalLocalPrice: string;
    /** @since 4.0.0(10) */
    originalMicroPrice: number;
    /** @since 4.0.0(10) */
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
    /** @since 4.0.0(10) */
    productId: string;
    /** @since 4.0.0(10) */
    productType: ProductType;
    /** @since 4.0.0(10). 0–256 characters; longer values are silently truncated. */
    developerPayload?: string;
    /** @since 4.0.0(10) */
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
    /** @since 4.1.0(11). A JSON string of PurchaseData. */
    purchaseData: string;
  }

  /** @since 4.1.0(11) */
  export interface FinishPurchaseParameter {
    /** @since 4.1.0(11). A number: convert the payload's string productType with Number(...). */
    productType: ProductType;
    /** @since 4.1.0(11) */
    purchaseToken: string;
    /** @since 4.1.0(11). At most 256 characters. */
    purchaseOrderId: string;
  }

  /** @since 4.0.0(10) */
  export interface QueryPurchasesParameter {
    /** @since 4.0.0(10) */
    productType: ProductType;
    /** @since 4.0.0(10). Omit on the first call; repeat with the returned token until none comes back. */
    continuationToken?: string;
    /** @since 4.1.0(11) */
    queryType?: PurchaseQueryType;
  }

  /** @since 4.1.0(11) */
  export interface QueryPurchaseResult {
    /** @since 4.1.0(11). Each item is a PurchaseData JSON string. */
    purchaseDataList: string[];
    /** @since 4.1.0(11) */
    continuationToken?: string;
  }

  /** @since 5.0.0(12) */
  export interface UIWindowParameter {
    /** @since 5.0.0(12) */
    windowScreenMode: WindowScreenMode;
  }

  /** @since 4.0.0(10) (context type common.Context from 4.1.0(11)) */
  export function queryEnvironmentStatus(context: common.Context): Promise<void>;
  /** @since 4.0.0(10) */
  export function queryEnvironmentStatus(context: common.Context, callback: AsyncCallback<void>): void;

  /** @since 4.0.0(10) */
  export function queryProducts(context: common.UIAbilityContext, parameter: QueryProductsParameter): Promise<Array<Product>>;
  /** @since 4.0.0(10) */
  export function queryProducts(context: common.UIAbilityContext, parameter: QueryProductsParameter,
    callback: AsyncCallback<Array<Product>>): void;

  /** @since 4.1.0(11) */
  export function createPurchase(context: common.UIAbilityContext, parameter: PurchaseParameter): Promise<CreatePurchaseResult>;
  /** @since 4.1.0(11) */
  export function createPurchase(context: common.UIAbilityContext, parameter: PurchaseParameter,
    callback: AsyncCallback<CreatePurchaseResult>): void;

  /** @since 4.1.0(11) */
  export function finishPurchase(context: common.UIAbilityContext, parameter: FinishPurchaseParameter): Promise<void>;
  /** @since 4.1.0(11) */
  export function finishPurchase(context: common.UIAbilityContext, parameter: FinishPurchaseParameter,
    callback: AsyncCallback<void>): void;

  /** @since 4.1.0(11) */
  export function queryPurchases(context: common.UIAbilityContext, parameter: QueryPurchasesParameter): Promise<QueryPurchaseResult>;
  /** @since 4.1.0(11) */
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
