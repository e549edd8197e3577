// Node stand-in for @kit.AbilityKit. Struct-free code only uses its types (common.Context,
// common.UIAbilityContext), which the bundler erases; nothing here runs on a device.
export const common = {};
