// ArkTS/ArkUI decorators that struct-free .ets code may use, as no-ops in Node. Reactivity is the ArkUI
// runtime's job; in Node only the logic runs. Injected into every bundle built by tools/test/EtsBundler.
type AnyCtor = new (...args: never[]) => object;
type PropertyDecorator = (target: object, key: string | symbol) => void;

const classDecorator = <T extends AnyCtor>(target: T): T => target;
const propertyDecorator: PropertyDecorator = () => undefined;
const decoratorFactory = (): PropertyDecorator => propertyDecorator;

const g = globalThis as Record<string, unknown>;
for (const name of ['ObservedV2', 'Observed', 'Sendable']) g[name] = classDecorator;
for (const name of ['Trace', 'Track', 'Computed']) g[name] = propertyDecorator;
for (const name of ['Monitor', 'Type']) g[name] = decoratorFactory;
g.Concurrent = (target: object): object => target;

export {};
