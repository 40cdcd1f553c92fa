import { rootTest } from '../helpers/root';
import { useTestStack } from '../helpers/use-test-stack';
import { callAs } from '../helpers/call';
import { alice, bob, dave } from '../helpers/users';

const stack = useTestStack({
  rules: `polkit.addRule(function(action, subject) {
if (action.id == "org.nsmount.allocate-user-namespace" && subject.user == "${bob.name}") return polkit.Result.NO;
if (action.id == "org.nsmount.allocate-user-namespace" && subject.user == "${dave.name}") return polkit.Result.AUTH_ADMIN;
});`,
});

const allocate = (user: typeof alice | 'root', interactive = false) =>
  callAs(user, stack.address, 'AllocateUserNamespace', 'sua{sv}', ['authz', 0, {}], { interactive });

rootTest.serial('a polkit rule denying a user gives NotAuthorized', async (t) => {
  const r = await allocate(bob);
  t.false(r.ok);
  if (!r.ok) {
    t.is(r.name, 'org.nsmount.NsMount1.Error.NotAuthorized');
    t.regex(r.message, /org\.nsmount\.allocate-user-namespace/);
  }
  t.true((await allocate(alice)).ok);
});

rootTest.serial('a challenge without the interactive flag asks for interactive authorization', async (t) => {
  const r = await allocate(dave);
  t.false(r.ok);
  if (!r.ok) t.is(r.name, 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired');
});

rootTest.serial('a challenge with the interactive flag but no agent is NotAuthorizedCanObtain', async (t) => {
  const r = await allocate(dave, true);
  t.false(r.ok);
  if (!r.ok) t.is(r.name, 'org.nsmount.NsMount1.Error.NotAuthorizedCanObtain');
});

rootTest.serial('with polkitd stopped, calls are denied, and allowed again once it is back', async (t) => {
  await stack.polkit.stop();
  try {
    const r = await allocate(alice);
    t.false(r.ok);
    if (!r.ok) {
      t.is(r.name, 'org.nsmount.NsMount1.Error.NotAuthorized');
      t.regex(r.message, /polkit/);
    }
    t.true((await allocate('root')).ok, 'root needs no polkit');
  } finally {
    await stack.polkit.restart();
  }
  t.true((await allocate(alice)).ok);
});
