import { authHandler } from "./_auth.tsx";

export const handler = authHandler("login");
