import { Construct } from 'constructs';
import { requireOneOf } from './validation';

/**
 * One way of running a construct that has modes or engines (RedisCluster's `mode`, PgReplicaSet's
 * `engine`, LoadBalancer's and Observability's `mode`): one module in the family's folder, listed
 * in the family's registry by its name. The construct picks the module its mode prop names, has it
 * resolve its settings from the props, (where the construct builds objects every mode shares) plan
 * what it adds to those ({@link PlanningModeModule}), and build its objects from those settings alone.
 *
 * - `Props`: the construct's props.
 * - `Settings`: what `resolve` returns, validated and defaulted; `build` reads nothing else of the props.
 * - `Built`: the objects the mode made, which the construct exposes.
 * - `Host`: the construct as the mode sees it when building: its scope and what it already made or resolved.
 */
export interface ModeModule<Props extends object, Settings, Built, Host = Construct> {
  /** The value of the mode prop that picks this module. */
  readonly name: string;
  /**
   * The props only this mode reads. Each carries `@onlyWhen <modeProp>=<modes>` in the props interface,
   * so the prop schema refuses it in every other mode (test/mode-modules checks the two agree).
   */
  readonly ownProps: readonly (keyof Props & string)[];
  /** Validates the props this mode reads and fills in their defaults; throws naming the construct path, the prop and the rule. */
  resolve(scope: Construct, props: Props): Settings;
  /** Creates the mode's objects under `host` from `settings` and returns them. */
  build(host: Host, settings: Settings): Built;
}

/**
 * A mode of a construct that also builds objects every mode shares (RedisCluster's ConfigMap and data
 * StatefulSet): `plan` says, before any object is made, what the mode adds to those, from its own
 * settings and the construct's (`shared`); `build` then makes the mode's own objects.
 */
export interface PlanningModeModule<Props extends object, Settings, Shared, Plan, Built, Host = Construct> extends ModeModule<Props, Settings, Built, Host> {
  /** What the mode adds to the objects its construct builds for every mode. */
  plan(settings: Settings, shared: Shared): Plan;
}

/** A family's modes by name (each module's `name` its key), each module's settings typed by its mode. */
export type ModeRegistry<Mode extends string, Props extends object, SettingsByMode extends Record<Mode, unknown>, Built, Host = Construct> = {
  readonly [M in Mode]: ModeModule<Props, SettingsByMode[M], Built, Host>;
};

/** `value` when `registry` has a module of that name; else throws naming `prop` and the modes there are. */
export function requireMode<Mode extends string>(scope: Construct, prop: string, value: Mode, registry: { readonly [M in Mode]: unknown }): Mode {
  return requireOneOf(scope, prop, value, Object.keys(registry) as Mode[]);
}

/** A mode whose settings are resolved, and which builds its objects from them once its host exists. */
export interface ResolvedMode<Settings, Built, Host> {
  readonly name: string;
  readonly settings: Settings;
  build(host: Host): Built;
}

/**
 * Resolves the settings of the mode `mode` of `registry` now, so every prop error comes before any
 * object is made, and keeps them with the module that builds from them.
 */
export function resolveMode<Mode extends string, Props extends object, SettingsByMode extends Record<Mode, unknown>, Built, Host, M extends Mode>(
  registry: ModeRegistry<Mode, Props, SettingsByMode, Built, Host>, mode: M, scope: Construct, props: Props): ResolvedMode<SettingsByMode[M], Built, Host> {
  const module = registry[mode];
  const settings = module.resolve(scope, props);
  return { name: module.name, settings, build: host => module.build(host, settings) };
}
