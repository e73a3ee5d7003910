import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { useQueryClient } from "@tanstack/react-query";
import { auth } from "@spot-optimizer/sdk";
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { api } from "../api/clients";
import { clearSession, loadSession, onSessionChange, saveTokens } from "../api/session";
import { publicTransport } from "../api/transport";

interface AuthState {
  /** Undefined while the stored session is being checked. */
  user: auth.User | null | undefined;
  login(email: string, password: string): Promise<void>;
  signUp(tenantName: string, email: string, password: string): Promise<void>;
  logout(): Promise<void>;
  acceptInvite(inviteToken: string, password: string): Promise<void>;
  /** Why the stored session could not be checked (server unreachable), with a retry. */
  bootError: unknown;
  retry(): void;
}

const AuthContext = createContext<AuthState | null>(null);

export function useAuth(): AuthState {
  const state = useContext(AuthContext);
  if (!state) throw new Error("useAuth outside AuthProvider");
  return state;
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [user, setUser] = useState<auth.User | null | undefined>(loadSession() ? undefined : null);

  const [bootError, setBootError] = useState<unknown>(null);

  // A stored session is only trusted after the server says who it belongs to; a server that
  // cannot be reached keeps the session (and says so) rather than signing the user out.
  const checkSession = useCallback(() => {
    if (!loadSession()) return;
    setBootError(null);
    api
      .auth()
      .me({})
      .then((response) => setUser(response.user ?? null))
      .catch((error) => {
        if (ConnectError.from(error).code === Code.Unauthenticated) {
          clearSession();
          setUser(null);
        } else {
          setBootError(error);
        }
      });
  }, []);
  useEffect(checkSession, [checkSession]);

  // Signed out elsewhere (a failed refresh, another tab): drop the user and every cached answer.
  useEffect(
    () =>
      onSessionChange((session) => {
        if (!session) {
          setUser(null);
          queryClient.clear();
        }
      }),
    [queryClient],
  );

  const login = useCallback(async (email: string, password: string) => {
    const response = await createClient(auth.AuthService, publicTransport()).login({ email, password });
    saveTokens(response.tokens);
    setUser(response.user ?? null);
  }, []);

  const signUp = useCallback(async (tenantName: string, email: string, password: string) => {
    const response = await createClient(auth.AuthService, publicTransport()).signUp({ tenantName, email, password });
    saveTokens(response.tokens);
    setUser(response.user ?? null);
  }, []);

  const acceptInvite = useCallback(async (inviteToken: string, password: string) => {
    const response = await createClient(auth.UserService, publicTransport()).acceptInvite({ inviteToken, password });
    saveTokens(response.tokens);
    setUser(response.user ?? null);
  }, []);

  const logout = useCallback(async () => {
    const session = loadSession();
    try {
      if (session) await createClient(auth.AuthService, publicTransport()).logout({ refreshToken: session.refreshToken });
    } finally {
      clearSession();
      queryClient.clear();
      setUser(null);
    }
  }, [queryClient]);

  const value = useMemo(
    () => ({ user, login, signUp, logout, acceptInvite, bootError, retry: checkSession }),
    [user, login, signUp, logout, acceptInvite, bootError, checkSession],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}
