/**
 * What the admin API needs from the other parts of Vigil. Each is optional: a route whose service
 * is missing answers 503 `unavailable`, so the API works (and is testable) as parts land.
 */

/** Seed 001's client states as the status manager reports them. */
export type ClientState = 'active' | 'paused' | 'blocked' | 'deactivated' | 'connection_error';
export type StateChange = 'pause' | 'resume' | 'block' | 'unblock';

export interface StatusService {
  /** Every client the status manager knows, with its state (src/clients/statusService.ts's shape). */
  list(): Promise<{ clients: { id: string; state: ClientState | string; enrolled?: boolean; connected?: boolean }[] }>;
  pause(clientId: string): Promise<unknown>;
  resume(clientId: string): Promise<unknown>;
  block(clientId: string): Promise<unknown>;
  unblock(clientId: string): Promise<unknown>;
}

export interface EnrolledUser {
  name: string;
  images: number;
  updatedAt?: string;
}

export interface UploadedImage {
  filename: string;
  mime: string;
  data: Buffer;
}

export interface UsersService {
  list(): Promise<EnrolledUser[]>;
  /** Adds reference images to a user (creating the user); returns what was stored. */
  enrol(name: string, images: UploadedImage[]): Promise<{ stored: number; files?: string[] } & Record<string, unknown>>;
  /** Deletes a user and their reference images; false when there was no such user. */
  remove(name: string): Promise<boolean>;
}

export interface ActionRecord {
  id: string;
  clientId: string;
  /** Seed 000 numbers (src/domain/action.ts). */
  action: number;
  reason: number;
  message?: string;
  /** When it was decided, epoch ms. */
  at: number;
  /** Evidence file paths relative to Data/Actions (`Warning/alice/22_11_2026-00_10_Warning_No_face.jpg`). */
  evidence?: { image?: string; sidecar?: string };
}

export interface ActionFilter {
  clientId?: string;
  reason?: number;
  since?: number;
  until?: number;
  limit: number;
}

export interface ActionsService {
  /** Newest first. */
  list(filter: ActionFilter): Promise<ActionRecord[]>;
}
