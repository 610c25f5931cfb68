/**
 * Seed 000's Action and Reason. Their numbers are part of the agent protocol: 0-11 keep their
 * meaning forever; new reasons get new numbers (documented in docs/protocol.md).
 */
export const Action = {
  NO_ACTION: 0,
  ACTION_LOCK_SCREEN: 1,
  ACTION_SIGN_OUT: 2,
  ACTION_WARNING: 3,
  ACTION_ERROR: 4,
} as const;
export type Action = (typeof Action)[keyof typeof Action];
export type ActionName = keyof typeof Action;

export const Reason = {
  EMPTY_REASON: 0,
  REASON_PHONE_DETECTION: 1,
  REASON_CABLE_REMOVE: 2,
  REASON_CAMERA_NOT_ATTACH: 3,
  REASON_CONNECT_TO_INTERNET: 4,
  REASON_SPOOF_IMAGE: 5,
  REASON_WRONG_USER: 6,
  REASON_NO_FACE: 7,
  REASON_BLOCKED_CLIENT: 8,
  REASON_PAUSED_CLIENT: 9,
  REASON_RESUME_CLIENT: 10,
  REASON_CLIENT_NOT_AVAILABLE: 11,
  /** Added by Vigil (docs/protocol.md): more than one face in front of the screen. */
  REASON_SEVERAL_FACES: 12,
  /** Added by Vigil: the image is too dark, too bright or blurred to tell whether anyone is there. */
  REASON_POOR_IMAGE: 13,
  /** Added by Vigil: the server could not analyse the agent's frames (corrupt or unsupported images). */
  REASON_ANALYSIS_FAILED: 14,
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];
export type ReasonName = keyof typeof Reason;

const actionNames = Object.fromEntries(Object.entries(Action).map(([k, v]) => [v, k])) as Record<Action, ActionName>;
const reasonNames = Object.fromEntries(Object.entries(Reason).map(([k, v]) => [v, k])) as Record<Reason, ReasonName>;

export const actionName = (a: Action): ActionName => actionNames[a];
export const reasonName = (r: Reason): ReasonName => reasonNames[r];
export const isAction = (n: unknown): n is Action => typeof n === 'number' && n in actionNames;
export const isReason = (n: unknown): n is Reason => typeof n === 'number' && n in reasonNames;

/** Seed 000's evidence folder and file-name word for each action (`Actions/<label>/<user>/..._<label>_<Reason>.jpg`). */
export const actionLabel: Record<Action, string> = {
  [Action.NO_ACTION]: 'No_action',
  [Action.ACTION_LOCK_SCREEN]: 'Lock_screen',
  [Action.ACTION_SIGN_OUT]: 'Sign_out',
  [Action.ACTION_WARNING]: 'Warning',
  [Action.ACTION_ERROR]: 'Error',
};

/** `REASON_PHONE_DETECTION` -> `Phone_detection`, as in the seed's evidence file names. */
export function reasonLabel(r: Reason): string {
  const words = reasonName(r).replace(/^REASON_/, '').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The message an agent shows for an action, unless the sender gives its own. */
export const reasonMessage: Record<Reason, string> = {
  [Reason.EMPTY_REASON]: '',
  [Reason.REASON_PHONE_DETECTION]: 'A phone was detected in front of the screen.',
  [Reason.REASON_CABLE_REMOVE]: 'The camera cable was removed.',
  [Reason.REASON_CAMERA_NOT_ATTACH]: 'No camera is attached.',
  [Reason.REASON_CONNECT_TO_INTERNET]: 'The workstation lost its network connection.',
  [Reason.REASON_SPOOF_IMAGE]: 'The face in front of the camera does not look live.',
  [Reason.REASON_WRONG_USER]: 'The person at the desk is not the enrolled user.',
  [Reason.REASON_NO_FACE]: 'Nobody is in front of the camera.',
  [Reason.REASON_BLOCKED_CLIENT]: 'This workstation has been blocked by an administrator.',
  [Reason.REASON_PAUSED_CLIENT]: 'Monitoring has been paused by an administrator.',
  [Reason.REASON_RESUME_CLIENT]: 'Monitoring has resumed.',
  [Reason.REASON_CLIENT_NOT_AVAILABLE]: 'This client is not an enrolled user.',
  [Reason.REASON_SEVERAL_FACES]: 'More than one person is in front of the screen.',
  [Reason.REASON_POOR_IMAGE]: 'The camera image is too dark, too bright or blurred; please fix the lighting or the camera.',
  [Reason.REASON_ANALYSIS_FAILED]: 'The server could not analyse the camera images.',
};
