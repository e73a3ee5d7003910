import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { useQueryClient } from "@tanstack/react-query";
import { auth } from "@spot-optimizer/sdk";
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { api } from "../api/clients";
import { refreshSession } from "../api/refresh";
import { clearSession, onSessionChange, saveTokens } from "../api/session";
import { publicTransport } from "../api/transport";

interface AuthState {
  /** Undefined while the stored session is being checked. */
  user: auth.User | null | undefined;
  login(email: string, password: string): Promise<void>;
  /** Sends the verification email; the account logs in once it is followed (verifyEmail). */
  signUp(tenantName: string, email: string, password: string): Promise<void>;
  verifyEmail(token: string): Promise<void>;
  resendVerification(email: string): Promise<void>;
  logout(): Promise<void>;
  acceptInvite(inviteToken: string, password: string): Promise<void>;
  /** Acts in another tenant the account has joined; the session it leaves ends. */
  switchTenant(tenantId: string): Promise<void>;
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
  const [user, setUser] = useState<auth.User | null | undefined>(undefined);

  const [bootError, setBootError] = useState<unknown>(null);

  // On load the tab has no access token: the refresh cookie (if any) is traded for one, then the
  // server says whose it is. A server that cannot be reached keeps the session (and says so)
  // rather than signing the user out.
  const checkSession = useCallback(() => {
    setBootError(null);
    refreshSession()
      .then((session) => {
        if (!session) {
          setUser(null);
          return undefined;
        }
        return api
          .auth()
          .me({})
          .then((response) => setUser(response.user ?? null));
      })
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
    await createClient(auth.AuthService, publicTransport()).signUp({ tenantName, email, password });
  }, []);

  const verifyEmail = useCallback(async (token: string) => {
    const response = await createClient(auth.AuthService, publicTransport()).verifyEmail({ token });
    saveTokens(response.tokens);
    setUser(response.user ?? null);
  }, []);

  const resendVerification = useCallback(async (email: string) => {
    await createClient(auth.AuthService, publicTransport()).resendVerificationEmail({ email });
  }, []);

  const acceptInvite = useCallback(async (inviteToken: string, password: string) => {
    const response = await createClient(auth.UserService, publicTransport()).acceptInvite({ inviteToken, password });
    saveTokens(response.tokens);
    setUser(response.user ?? null);
  }, []);

  const switchTenant = useCallback(
    async (tenantId: string) => {
      // The edge fills in (and ends) the current session's refresh token from its cookie.
      const response = await api.auth().switchTenant({ tenantId });
      saveTokens(response.tokens);
      queryClient.clear();
      setUser(response.user ?? null);
    },
    [queryClient],
  );

  const logout = useCallback(async () => {
    try {
      // The edge puts the refresh cookie's token into this empty request, and clears the cookie.
      await createClient(auth.AuthService, publicTransport()).logout({});
    } finally {
      clearSession();
      queryClient.clear();
      setUser(null);
    }
  }, [queryClient]);

  const value = useMemo(
    () => ({
      user,
      login,
      signUp,
      verifyEmail,
      resendVerification,
      logout,
      acceptInvite,
      switchTenant,
      bootError,
      retry: checkSession,
    }),
    [user, login, signUp, verifyEmail, resendVerification, logout, acceptInvite, switchTenant, bootError, checkSession],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}
