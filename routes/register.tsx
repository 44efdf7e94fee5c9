import { authHandler } from "./login.tsx";

export const handler = authHandler("register");
