// polkit rules the test stacks share, so each file says what it allows
// instead of repeating the JavaScript.
import type { TestUser } from './users';

/** Lets `user` mount images that are not trusted, as the README's example rule does for a group. */
export function allowUntrustedImages(user: TestUser): string {
  return `polkit.addRule(function (action, subject) {
      if (action.id == "org.nsmount.mount-image-untrusted" && subject.user == "${user.name}") return polkit.Result.YES;
    });`;
}
