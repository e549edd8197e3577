// The simulated AppGallery Connect product catalog: what `queryProducts` returns and what `createPurchase` sells.
// Prices are kept in fen (1/100 yuan) as the JWS payload carries them; the Product view derives the display
// strings and micro prices from that. How many gems a consumable unit grants is app logic, not IAP's.
import { PeriodUnit, Product, ProductStatus, ProductType, SubscriptionInfo } from './IapTypes';

export interface SubscriptionTerms {
  periodUnit: PeriodUnit;
  periodCount: number;
  groupId: string;
  groupLevel: number;
}

export interface ProductDefinition {
  id: string;
  type: ProductType;
  name: string;
  description: string;
  /** Unit price in fen. */
  priceFen: number;
  /** ISO 4217; CNY unless configured otherwise. */
  currency?: string;
  /** AGC product status; only VALID products can be bought. Defaults to VALID. */
  status?: ProductStatus;
  /** Auto-renewables only. */
  subscription?: SubscriptionTerms;
}

/** The reference app's demo catalog (issue 4). */
export const DEMO_CATALOG: readonly ProductDefinition[] = Object.freeze([
  { id: 'gems_100', type: ProductType.CONSUMABLE, name: '100 Gems', description: 'A pouch of 100 gems', priceFen: 600 },
  { id: 'gems_550', type: ProductType.CONSUMABLE, name: '550 Gems', description: 'A chest of 550 gems', priceFen: 3000 },
  { id: 'gems_1200', type: ProductType.CONSUMABLE, name: '1200 Gems', description: 'A vault of 1200 gems', priceFen: 6800 },
  { id: 'remove_ads', type: ProductType.NONCONSUMABLE, name: 'Remove Ads', description: 'No more ads, forever', priceFen: 1200 },
  { id: 'premium_themes', type: ProductType.NONCONSUMABLE, name: 'Premium Themes', description: 'Every premium theme', priceFen: 1800 },
  { id: 'season_pass', type: ProductType.NONRENEWABLE, name: 'Season Pass', description: 'All season content for 90 days', priceFen: 2500 },
]);

/** An auto-renewable product for tests that need one (not part of the demo catalog). */
export const DEMO_SUBSCRIPTION: ProductDefinition = Object.freeze({
  id: 'vip_monthly',
  type: ProductType.AUTORENEWABLE,
  name: 'VIP Monthly',
  description: 'VIP membership, renewed monthly',
  priceFen: 1500,
  subscription: { periodUnit: PeriodUnit.MONTH, periodCount: 1, groupId: 'vip', groupLevel: 1 },
});

/**
 * The storefront's subscription group "Gem Club" (a monthly and a yearly auto-renewable; the yearly is the higher
 * level). Not in DEMO_CATALOG: add it where subscriptions are wanted (SUBSCRIPTION_CATALOG).
 */
export const GEM_CLUB_MONTHLY: ProductDefinition = Object.freeze({
  id: 'gem_club_monthly',
  type: ProductType.AUTORENEWABLE,
  name: 'Gem Club Monthly',
  description: 'A daily gem bonus, renewed monthly',
  priceFen: 1200,
  subscription: { periodUnit: PeriodUnit.MONTH, periodCount: 1, groupId: 'gem_club', groupLevel: 2 },
});

export const GEM_CLUB_YEARLY: ProductDefinition = Object.freeze({
  id: 'gem_club_yearly',
  type: ProductType.AUTORENEWABLE,
  name: 'Gem Club Yearly',
  description: 'A daily gem bonus, renewed yearly',
  priceFen: 12800,
  subscription: { periodUnit: PeriodUnit.YEAR, periodCount: 1, groupId: 'gem_club', groupLevel: 1 },
});

/** DEMO_CATALOG plus the Gem Club subscription group. */
export const SUBSCRIPTION_CATALOG: readonly ProductDefinition[] = Object.freeze([...DEMO_CATALOG, GEM_CLUB_MONTHLY, GEM_CLUB_YEARLY]);

const DAY_MS = 86_400_000;

/** Length of one subscription period in ms (month = 30 days, year = 365 days; minutes are reserved). */
export function periodMs(terms: SubscriptionTerms): number {
  const unit: Record<PeriodUnit, number> = {
    [PeriodUnit.DAY]: DAY_MS,
    [PeriodUnit.WEEK]: 7 * DAY_MS,
    [PeriodUnit.MONTH]: 30 * DAY_MS,
    [PeriodUnit.YEAR]: 365 * DAY_MS,
    [PeriodUnit.MINUTE]: 60_000,
  };
  return unit[terms.periodUnit] * terms.periodCount;
}

/** ISO 8601 duration of one period, as `duration` in subscription order payloads (P1M, P1W…). */
export function periodIso(terms: SubscriptionTerms): string {
  const letter: Record<PeriodUnit, string> = {
    [PeriodUnit.DAY]: 'D',
    [PeriodUnit.WEEK]: 'W',
    [PeriodUnit.MONTH]: 'M',
    [PeriodUnit.YEAR]: 'Y',
    [PeriodUnit.MINUTE]: 'M',
  };
  return terms.periodUnit === PeriodUnit.MINUTE ? `PT${terms.periodCount}M` : `P${terms.periodCount}${letter[terms.periodUnit]}`;
}

function displayPrice(fen: number, currency: string): string {
  const amount = (fen / 100).toFixed(2);
  return currency === 'CNY' ? `¥${amount}` : `${currency} ${amount}`;
}

/** The `Product` view of a definition, as `queryProducts` returns it. */
export function toProduct(def: ProductDefinition): Product {
  const currency = def.currency ?? 'CNY';
  const price = displayPrice(def.priceFen, currency);
  const microPrice = def.priceFen * 10_000;
  const product: Product = {
    id: def.id,
    type: def.type,
    name: def.name,
    description: def.description,
    price,
    localPrice: price,
    microPrice,
    originalLocalPrice: price,
    originalMicroPrice: microPrice,
    currency,
    status: def.status ?? ProductStatus.VALID,
  };
  if (def.subscription) {
    const info: SubscriptionInfo = {
      periodUnit: def.subscription.periodUnit,
      periodCount: def.subscription.periodCount,
      groupId: def.subscription.groupId,
      groupLevel: def.subscription.groupLevel,
      hasEligibilityForIntroOffer: false,
    };
    product.subscriptionInfo = info;
  }
  product.jsonRepresentation = JSON.stringify({ ...product, jsonRepresentation: undefined });
  return product;
}
