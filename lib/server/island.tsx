import type { ComponentType } from "preact";

/**
 * Server side of an island: renders the component inside a marked element whose
 * `data-props` the browser entry (islands/client.ts) hydrates from. Props must be JSON.
 */
export function Island<P extends Record<string, unknown>>(
  { name, component: Component, props }: {
    name: string;
    component: ComponentType<P>;
    props: P;
  },
) {
  return (
    <div data-island={name} data-props={JSON.stringify(props)}>
      <Component {...props} />
    </div>
  );
}
