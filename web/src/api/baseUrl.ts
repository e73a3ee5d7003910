/** Where the API lives: VITE_API_URL in development, else the origin that served the app. */
export function apiBaseUrl(): string {
  const configured = import.meta.env.VITE_API_URL as string | undefined;
  return (configured && configured.trim()) || window.location.origin;
}
